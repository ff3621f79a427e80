-- Stores and their channel accounts (issue 14, "Stores and channel accounts"). A store's id
-- follows the event-id rules; an event may belong to one store (its store_name is then filled
-- from the store's name and kept, so events without a store and old readers keep working).
CREATE TABLE stores (
    id         VARCHAR(36) PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9_-]{1,36}$'),
    name       TEXT NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    created_by TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- RESTRICT: a store that events point to cannot vanish under them.
ALTER TABLE events ADD COLUMN store_id VARCHAR(36)
    CONSTRAINT fk_events_store REFERENCES stores (id) ON DELETE RESTRICT;
CREATE INDEX idx_events_store_id ON events (store_id) WHERE store_id IS NOT NULL;

-- One account per store and channel. credentials is AES-256-GCM ciphertext (nonce||sealed, the
-- associated data binds it to store_id and channel) written under the key named by key_id
-- (internal/secrets); the plaintext never reaches the database. account_ref is the platform's
-- public account id (Instagram user id, Naver cafe club/menu, Kakao sender key).
CREATE TABLE channel_accounts (
    store_id     VARCHAR(36) NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    channel      VARCHAR(20) NOT NULL,
    account_ref  TEXT NOT NULL CHECK (length(account_ref) BETWEEN 1 AND 200),
    credentials  BYTEA NOT NULL,
    key_id       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ,
    status       TEXT NOT NULL DEFAULT 'connected'
        CHECK (status IN ('connected', 'expiring', 'needs_reconnect', 'disconnected')),
    last_error   TEXT NOT NULL DEFAULT '',
    connected_by TEXT NOT NULL DEFAULT '',
    connected_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (store_id, channel)
);
