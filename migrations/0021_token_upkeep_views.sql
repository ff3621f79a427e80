-- Token upkeep and measured views (issue 14, points 6 and 7).
--
-- channel_accounts.refreshed_at: when the upkeep last renewed the token (NULL = never; the token
-- is then as old as connected_at). Instagram refuses to refresh a token younger than 24 hours.
-- channel_accounts.upkeep_checked_at: when an upkeep pass last looked at the account, so that one
-- pass across every replica handles it per interval (a temporary failure waits for the next).
ALTER TABLE channel_accounts ADD COLUMN refreshed_at TIMESTAMPTZ;
ALTER TABLE channel_accounts ADD COLUMN upkeep_checked_at TIMESTAMPTZ;

-- channel_status.measured_views: the platform's own count of views of the post (Instagram media
-- insights), NULL while unknown (never 0 pretending); measured_at says when it was read.
ALTER TABLE channel_status ADD COLUMN measured_views INTEGER CHECK (measured_views >= 0);
ALTER TABLE channel_status ADD COLUMN measured_at TIMESTAMPTZ;

