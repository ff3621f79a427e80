-- OAuth authorization-code flows that connect a store's channel account from the /stores pages
-- (issue 14, "Stores and channel accounts"). One row per flow a manager started: the SHA-256 of the
-- random state sent to the platform (never the state itself), the manager's user and session it
-- is bound to, the store and channel it connects, the redirect URI the code must be exchanged
-- with, and what the connect form asked (Naver cafe club and menu). A row is deleted when the
-- callback takes it (single use) and is valid for ten minutes (expires_at, the database clock).
CREATE TABLE oauth_states (
    state_hash   BYTEA PRIMARY KEY CHECK (length(state_hash) = 32),
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id   TEXT NOT NULL,
    store_id     VARCHAR(36) NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    channel      VARCHAR(20) NOT NULL,
    redirect_uri TEXT NOT NULL CHECK (length(redirect_uri) BETWEEN 1 AND 2000),
    club_id      TEXT NOT NULL DEFAULT '' CHECK (club_id ~ '^[0-9]{0,20}$'),
    menu_id      TEXT NOT NULL DEFAULT '' CHECK (menu_id ~ '^[0-9]{0,20}$'),
    reconnect    BOOLEAN NOT NULL DEFAULT false,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX idx_oauth_states_expires_at ON oauth_states (expires_at);
