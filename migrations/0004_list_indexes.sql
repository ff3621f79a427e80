-- Added by this project: indexes the events list needs to stay fast at 100k+ events
-- (db.FindEvents, db.CountEventsByStatus). Plain b-trees only: no extension is assumed.
-- Filter and count by overall status.
CREATE INDEX idx_distribution_status_overall_status ON distribution_status (overall_status);
-- The search box matches these ids exactly.
CREATE INDEX idx_channel_status_distribution_id ON channel_status (distribution_id);
CREATE INDEX idx_channel_status_post_id ON channel_status (post_id);
CREATE INDEX idx_channel_status_message_id ON channel_status (message_id);
