-- Waiting reasons (issue 13 point 5): a channel that is not running says why and until when. The
-- engine sets them in the same transaction as the status write: queued at start, retry and rescue;
-- retry_backoff with River's next run time after a failed attempt; rate_limited after a 429;
-- channel_paused while the channel's circuit breaker is open; cleared when a worker claims the
-- channel and when it finishes. quiet_hours and scheduled are set by the features that own them.
ALTER TABLE channel_status
    ADD COLUMN waiting_reason VARCHAR(20)
        CHECK (waiting_reason IN ('queued', 'retry_backoff', 'rate_limited', 'channel_paused', 'quiet_hours', 'scheduled')),
    ADD COLUMN next_attempt_at TIMESTAMPTZ;
