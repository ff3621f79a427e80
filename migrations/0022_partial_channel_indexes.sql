-- Added by this project: fewer index entries per channel status write (issue 13, throughput).
--
-- A channel row is written at least twice per attempt (the claim, the finish), and both writes
-- change the indexed status column, so PostgreSQL cannot update it in place (no HOT update): every
-- index on channel_status gets a new entry each time. The id, URL and completion-time lookups only
-- ever look for rows whose value is set (a search for a pasted id or URL, a range of completion
-- times), so their indexes need no entry for the rows still running, whose values are NULL: as
-- partial indexes on "IS NOT NULL" the claim and the progress writes skip them. The planner proves
-- the predicates from the lookups' "=", "= ANY" and range conditions (strict operators).
--
-- ANALYZE keeps no statistics for the expression of a partial index, and without them the
-- search's OR of four id lookups (db.searchCondition) is estimated at 200 rows an arm and planned
-- as a walk of every channel row: statistics on the expressions themselves (PostgreSQL 14+) keep
-- the BitmapOr of the four indexes. Before 14 the lower() indexes stay whole, as they were.
DO $$
DECLARE
    col text;
BEGIN
    FOREACH col IN ARRAY ARRAY['distribution_id', 'post_id', 'message_id'] LOOP
        IF current_setting('server_version_num')::int >= 140000 THEN
            EXECUTE format('DROP INDEX IF EXISTS idx_channel_status_lower_%s', col);
            EXECUTE format('CREATE INDEX idx_channel_status_lower_%1$s ON channel_status (lower(%1$s)) WHERE lower(%1$s) IS NOT NULL', col);
            EXECUTE format('CREATE STATISTICS IF NOT EXISTS st_channel_status_lower_%1$s ON (lower(%1$s)) FROM channel_status', col);
        END IF;
    END LOOP;
END $$;
DROP INDEX IF EXISTS idx_channel_status_post_url;
CREATE INDEX idx_channel_status_post_url ON channel_status (post_url) WHERE post_url IS NOT NULL;
DROP INDEX IF EXISTS idx_channel_status_completed_at;
CREATE INDEX idx_channel_status_completed_at ON channel_status (completed_at) WHERE completed_at IS NOT NULL;
ANALYZE channel_status;

-- An attempt row is inserted running (finished_at NULL); reports look for finished ones only.
DROP INDEX IF EXISTS idx_channel_attempts_finished_at;
CREATE INDEX idx_channel_attempts_finished_at ON channel_attempts (finished_at) WHERE finished_at IS NOT NULL;
