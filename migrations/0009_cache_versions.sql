-- Cache versions: Redis writes follow the Postgres commit but can land out of order (two workers
-- finishing channels of one event, a read-through refill carrying an older read). Each row carries
-- a version that grows by one with every UPDATE; the row lock serialises UPDATEs of one row, so the
-- version is monotonic in commit order. Redis stores it with the row and a write never replaces a
-- newer version (internal/cache). A trigger, not the UPDATE statements, bumps it, so no UPDATE
-- (engine, tools, tests) can forget it.
ALTER TABLE distribution_status ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE channel_status ADD COLUMN version BIGINT NOT NULL DEFAULT 0;

CREATE FUNCTION bump_row_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.version := OLD.version + 1;
    RETURN NEW;
END
$$;

CREATE TRIGGER trg_distribution_status_version
    BEFORE UPDATE ON distribution_status
    FOR EACH ROW EXECUTE FUNCTION bump_row_version();

CREATE TRIGGER trg_channel_status_version
    BEFORE UPDATE ON channel_status
    FOR EACH ROW EXECUTE FUNCTION bump_row_version();
