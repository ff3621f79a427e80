-- Added by this project: the events list's search finds what people paste (db.FindEvents): an
-- event id, a channel's distribution/post/message id in any letter case, a post URL, a store name
-- or a part of the title, and stays an index lookup at 100k+ events.

-- Ids match case-insensitively: the exact-case indexes of migration 0004 give way to lower().
DROP INDEX IF EXISTS idx_channel_status_distribution_id;
DROP INDEX IF EXISTS idx_channel_status_post_id;
DROP INDEX IF EXISTS idx_channel_status_message_id;
CREATE INDEX idx_channel_status_lower_distribution_id ON channel_status (lower(distribution_id));
CREATE INDEX idx_channel_status_lower_post_id ON channel_status (lower(post_id));
CREATE INDEX idx_channel_status_lower_message_id ON channel_status (lower(message_id));
-- A pasted post URL matches the stored one.
CREATE INDEX idx_channel_status_post_url ON channel_status (post_url);
-- An event id matches by prefix, case-insensitively.
CREATE INDEX idx_events_lower_id ON events (lower(id) text_pattern_ops);

-- A part of a title or a store name (ILIKE '%…%') needs trigram indexes. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension, but a managed server may not offer it: then the
-- search still works, scanning events, and nothing else changes.
DO $$
BEGIN
    BEGIN
        CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXCEPTION WHEN OTHERS THEN
        RAISE NOTICE 'pg_trgm is not available (%): title and store searches scan events', SQLERRM;
    END;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        EXECUTE 'CREATE INDEX idx_events_title_trgm ON events USING gin (title gin_trgm_ops)';
        EXECUTE 'CREATE INDEX idx_events_store_name_trgm ON events USING gin (store_name gin_trgm_ops)';
    END IF;
END $$;
