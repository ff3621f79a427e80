-- Added by this project: the events list filtered by overall status ("failed only") must not walk
-- every newer event and probe its distribution (at 100k events a rare status cost ~9 ms). Each
-- distribution carries its event's created_at, so an index in list order serves the filter directly.
-- A distribution inserted without an events row (the ERD alone) keeps its insert time.
ALTER TABLE distribution_status ADD COLUMN event_created_at TIMESTAMPTZ DEFAULT now();

UPDATE distribution_status d SET event_created_at = e.created_at FROM events e WHERE e.id = d.event_id;

CREATE FUNCTION distribution_status_event_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.event_created_at := COALESCE((SELECT created_at FROM events WHERE id = NEW.event_id), NEW.event_created_at);
    RETURN NEW;
END $$;

CREATE TRIGGER trg_distribution_status_event_created_at
    BEFORE INSERT ON distribution_status
    FOR EACH ROW EXECUTE FUNCTION distribution_status_event_created_at();

CREATE INDEX idx_distribution_status_status_list_order
    ON distribution_status (overall_status, event_created_at DESC, event_id DESC);
