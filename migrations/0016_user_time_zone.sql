-- Each user's time zone (issue 15.4): an IANA name such as Asia/Seoul, chosen on the pages and
-- used for every time shown, the day boundaries of reports and bulk retry, and export times.
-- '' means "the deployment's DEFAULT_TIMEZONE", so existing users follow the default until they
-- choose. The application validates the name; the check only bounds what can be stored.
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT ''
    CHECK (length(time_zone) <= 64 AND time_zone ~ '^[A-Za-z0-9_+/-]*$');
