-- Protocol state kept across the attempts of one idempotency key (issue 14): the Instagram Graph
-- API has no idempotency key, so the media container id is written here before media_publish is
-- called, and a retry of the same key looks at that container first instead of publishing again.
-- One row per channel row and key (the key changes only with a manual retry).
CREATE TABLE publish_checkpoints (
    channel_status_id BIGINT NOT NULL REFERENCES channel_status (id) ON DELETE CASCADE,
    idempotency_key   TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    value             TEXT NOT NULL CHECK (length(value) BETWEEN 1 AND 200),
    updated_at        TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (channel_status_id, idempotency_key)
);
