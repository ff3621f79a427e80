-- Added by this project: the events being distributed and the per-attempt history.
CREATE TABLE events (
    id          VARCHAR(36) PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,36}$'),
    title       TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
    description TEXT NOT NULL DEFAULT '',
    image_url   TEXT NOT NULL DEFAULT '',
    store_name  TEXT NOT NULL DEFAULT '',
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- Keyset pagination of the events list: newest first, id as tie-breaker.
CREATE INDEX idx_events_created_at_id ON events (created_at DESC, id DESC);

CREATE TABLE channel_attempts (
    id                BIGSERIAL PRIMARY KEY,
    channel_status_id BIGINT NOT NULL REFERENCES channel_status (id) ON DELETE CASCADE,
    event_id          VARCHAR(36) NOT NULL,
    channel           VARCHAR(20) NOT NULL,
    attempt           INTEGER NOT NULL,
    generation        INTEGER NOT NULL,
    trigger           TEXT NOT NULL DEFAULT 'system',
    started_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    finished_at       TIMESTAMPTZ,
    outcome           TEXT NOT NULL DEFAULT 'running'
        CHECK (outcome IN ('running', 'success', 'failed', 'retry', 'snoozed', 'lost')),
    error             TEXT,
    http_status       INTEGER
);
CREATE INDEX idx_channel_attempts_channel_status_id ON channel_attempts (channel_status_id, id);
CREATE INDEX idx_channel_attempts_event_id ON channel_attempts (event_id);
