-- Added by this project: indexes the manager reports need (db/reports.go, db/admin.go).
-- Reports select distributions by start time, newest first (keyset on started_at, id).
CREATE INDEX idx_distribution_status_started_at_id ON distribution_status (started_at DESC, id DESC);
-- The channel health strip counts attempts finished in the last hours.
CREATE INDEX idx_channel_attempts_finished_at ON channel_attempts (finished_at);
-- Bulk retries filter FAILED channels by the time they failed.
CREATE INDEX idx_channel_status_completed_at ON channel_status (completed_at);
