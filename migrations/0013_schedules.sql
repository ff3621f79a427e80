-- Scheduled starts (issue 13.4): at most one per event, removed in the same transaction as the
-- start it becomes (scheduled or "start now"), so an event never has both a schedule and a
-- distribution. start_at is an instant compared with the database clock (now()); the index
-- serves the due-claim of every worker process (internal/engine/schedules.go).
CREATE TABLE distribution_schedules (
    event_id   VARCHAR(36) PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    channels   TEXT[] NOT NULL CHECK (cardinality(channels) BETWEEN 1 AND 6),
    start_at   TIMESTAMPTZ NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX idx_distribution_schedules_start_at ON distribution_schedules (start_at);
