-- Cancel (issue 13.3): an attempt stopped by a person's cancel is closed as 'cancelled' (error
-- "cancelled by <actor>"); a cancel of a channel with no running attempt records one such row, so
-- the attempt history shows who cancelled. FinishChannel keys the "published before the cancel took
-- effect" rule on it (DESIGN.md "Cancel").
ALTER TABLE channel_attempts DROP CONSTRAINT channel_attempts_outcome_check;
ALTER TABLE channel_attempts ADD CONSTRAINT channel_attempts_outcome_check
    CHECK (outcome IN ('running', 'success', 'failed', 'retry', 'snoozed', 'lost', 'cancelled'));
