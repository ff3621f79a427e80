-- Every API token belongs to a user and dies with that user's disable or demotion, so a token never
-- keeps rights its owner lost; tokens may expire. Machines' tokens (CLI) belong to a service
-- account: a users row of kind 'service' named "service:<token name>", which has no password and
-- cannot log in.
ALTER TABLE users ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'service'));

ALTER TABLE api_tokens
    ADD COLUMN owner_id   BIGINT REFERENCES users (id) ON DELETE CASCADE,
    ADD COLUMN expires_at TIMESTAMPTZ;
CREATE INDEX idx_api_tokens_owner_id ON api_tokens (owner_id);

-- Backfill. Tokens made on /tokens belong to the manager who made them (created_by is their email).
UPDATE api_tokens t SET owner_id = u.id
FROM users u WHERE u.email = t.created_by AND u.kind = 'user';

-- The rest (CLI tokens, or their maker is gone) belong to a service account named after the token,
-- with the highest role among the tokens of that name (so no token loses its role by the backfill).
INSERT INTO users (email, password_hash, role, kind)
SELECT DISTINCT ON (lower(name)) 'service:' || lower(name), '', role, 'service'
FROM api_tokens WHERE owner_id IS NULL
ORDER BY lower(name), array_position(ARRAY['marketer', 'staff', 'manager'], role) DESC
ON CONFLICT (email) DO NOTHING;

UPDATE api_tokens t SET owner_id = u.id
FROM users u WHERE t.owner_id IS NULL AND u.email = 'service:' || lower(t.name) AND u.kind = 'service';
-- owner_id stays nullable: a row the backfill could not place (a person's email already spelled
-- "service:<name>") keeps working as before, checked for revocation and expiry only.
