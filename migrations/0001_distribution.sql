-- The upstream ERD (shared/seed/distribution-service-erd.puml), exactly; TIMESTAMP stored as TIMESTAMPTZ.
CREATE TABLE distribution_status (
    id             BIGSERIAL PRIMARY KEY,
    event_id       VARCHAR(36) NOT NULL,
    overall_status VARCHAR(20) NOT NULL,
    started_at     TIMESTAMPTZ NOT NULL,
    completed_at   TIMESTAMPTZ,
    created_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    CONSTRAINT uk_distribution_status_event_id UNIQUE (event_id),
    CONSTRAINT chk_distribution_status_overall_status
        CHECK (overall_status IN ('IN_PROGRESS', 'COMPLETED', 'FAILED', 'PARTIAL_SUCCESS'))
);

CREATE TABLE channel_status (
    id                     BIGSERIAL PRIMARY KEY,
    distribution_status_id BIGINT NOT NULL
        CONSTRAINT fk_channel_status_distribution_status
        REFERENCES distribution_status (id) ON DELETE CASCADE,
    channel                VARCHAR(20) NOT NULL,
    status                 VARCHAR(20) NOT NULL,
    progress               INTEGER,
    distribution_id        VARCHAR(100),
    estimated_views        INTEGER,
    update_timestamp       TIMESTAMPTZ NOT NULL DEFAULT now(),
    event_id               VARCHAR(36) NOT NULL,
    impression_schedule    TEXT,
    post_url               VARCHAR(500),
    post_id                VARCHAR(100),
    message_id             VARCHAR(100),
    completed_at           TIMESTAMPTZ,
    error_message          TEXT,
    retries                INTEGER,
    last_retry_at          TIMESTAMPTZ,
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Added by this project: the attempt generation that owns the row (the write fence). Manual
    -- retries and rescues bump it; a job carrying an older generation writes nothing.
    generation             INTEGER NOT NULL DEFAULT 0,
    CONSTRAINT uk_channel_status_distribution_channel UNIQUE (distribution_status_id, channel),
    CONSTRAINT chk_channel_status_channel
        CHECK (channel IN ('URIDONGNETV', 'RINGOBIZ', 'GINITV', 'INSTAGRAM', 'NAVER', 'KAKAO')),
    CONSTRAINT chk_channel_status_status
        CHECK (status IN ('PENDING', 'IN_PROGRESS', 'SUCCESS', 'FAILED')),
    CONSTRAINT chk_channel_status_progress CHECK (progress BETWEEN 0 AND 100)
);

CREATE INDEX idx_channel_status_event_id ON channel_status (event_id);
CREATE INDEX idx_channel_status_event_id_channel ON channel_status (event_id, channel);
CREATE INDEX idx_channel_status_status ON channel_status (status);
