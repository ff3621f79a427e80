-- Login throttling that cannot be raced (attempts are counted before the password is checked) or
-- turned against the owner (a stranger's failures cannot lock the owner out of a browser holding
-- a device cookie).
-- Server keys generated once and shared by every replica; today only 'device_cookie', the HMAC key
-- of the device cookies (OWASP device-cookie scheme) a browser gets at a successful login.
CREATE TABLE server_keys (
    name       TEXT PRIMARY KEY,
    key        BYTEA NOT NULL CHECK (length(key) >= 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- The prune loop deletes audit rows older than AUDIT_RETENTION by "at" (idx_audit_log_at serves it);
-- throttled logins are aggregated into one row per address and window, found by this index.
CREATE INDEX idx_audit_log_action_ip_at ON audit_log (action, ip, at DESC);
