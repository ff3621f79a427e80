package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// RetryFilter selects FAILED channels for RetryMatching (see db.RetryFilter).
type RetryFilter = db.RetryFilter

// StartDistribution starts distributing an event to chans: the distribution, its channel rows and
// one job per channel commit together. Errors: ENOTFOUND (unknown event), EINVALID (no, unknown
// or duplicate channels; nothing written), *model.AlreadyStartedError (code ECONFLICT, carries the
// existing distribution). actor is recorded in the audit log.
func (e *Engine) StartDistribution(ctx context.Context, eventID string, chans []model.Channel, actor string) (model.Distribution, error) {
	if err := e.preflightRefusal(ctx, eventID, chans); err != nil { // preflight.go: 400 channel_unavailable, 409 quota_exhausted
		return model.Distribution{}, err
	}
	r := e.starts.start(ctx, db.StartRequest{EventID: eventID, Channels: chans, Actor: actor})
	d, err := r.Distribution, r.Err
	if err != nil {
		return d, err
	}
	e.log.InfoContext(ctx, "distribution started", slog.String("event_id", eventID), slog.Int("channels", len(d.Channels)),
		slog.String("actor", actor))
	e.cacheDistribution(ctx, d)
	return d, nil
}

// RetryChannel makes staff retry one FAILED channel: PENDING under a new generation, retries+1,
// last_retry_at, the distribution back to IN_PROGRESS, a new job; one transaction. Errors:
// ENOTFOUND (no distribution, or the channel is not part of it), ECONFLICT "<CH> is <STATUS>;
// only FAILED channels can be retried" (nothing written), EINVALID (unknown channel),
// ENEEDSRECONNECT (the store's account on ch must be connected again first).
func (e *Engine) RetryChannel(ctx context.Context, eventID string, ch model.Channel, actor string) (model.Distribution, error) {
	if err := e.checkRetryAccount(ctx, eventID, ch); err != nil { // accounts.go: 409 needs_reconnect
		return model.Distribution{}, err
	}
	d, err := e.store.RetryChannel(ctx, eventID, ch, actor, e.enqueue)
	if err != nil {
		return d, err
	}
	e.metrics.retries.WithLabelValues("channel").Inc()
	e.log.InfoContext(ctx, "channel retried", slog.String("event_id", eventID), slog.String("channel", string(ch)), slog.String("actor", actor))
	e.cacheDistribution(ctx, d)
	return d, nil
}

// RetryFailed retries every FAILED channel of an event's distribution in one transaction and
// returns the channels retried (display order). Errors: ENOTFOUND (no distribution), ECONFLICT
// (no FAILED channel).
func (e *Engine) RetryFailed(ctx context.Context, eventID, actor string) ([]model.Channel, error) {
	out, _, err := e.RetryFailedChecked(ctx, eventID, actor)
	return out, err
}

// RetryFailedChecked is RetryFailed skipping the FAILED channels the pre-flight check refuses
// (preflight.go: an account to connect or reconnect, ...): they stay FAILED and are returned in
// skipped. When every FAILED channel is refused the error is a *model.UnavailableError.
func (e *Engine) RetryFailedChecked(ctx context.Context, eventID, actor string) (retried []model.Channel, skipped []model.ChannelCheck, err error) {
	skip, skipped, err := e.retryRefusals(ctx, eventID)
	if err != nil {
		return nil, nil, err
	}
	d, rows, err := e.store.RetryFailedExcept(ctx, eventID, actor, skip, e.enqueue)
	if model.ErrorCode(err) == model.ECONFLICT && len(skipped) > 0 {
		return nil, skipped, &model.UnavailableError{Checks: skipped}
	}
	if err != nil {
		return nil, skipped, err
	}
	out := make([]model.Channel, len(rows))
	for i, r := range rows {
		out[i] = r.Channel
	}
	e.metrics.retries.WithLabelValues("failed").Add(float64(len(rows)))
	e.log.InfoContext(ctx, "failed channels retried", slog.String("event_id", eventID), slog.Any("channels", out), slog.String("actor", actor))
	e.cacheDistribution(ctx, d)
	return out, skipped, nil
}

// RetryMatching retries FAILED channels across distributions matching f (e.g. every failed KAKAO
// after a token outage), at most BulkRetryLimit per call, BulkRetryBatch per transaction. With
// preview it writes nothing and returns how many channels match (which may exceed the limit).
func (e *Engine) RetryMatching(ctx context.Context, f RetryFilter, actor string, preview bool) (int, error) {
	if f.Channel != "" && !f.Channel.Valid() {
		return 0, model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", string(f.Channel))
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		return 0, model.Errork(model.EINVALID, "err.time_range_empty", "the time range is empty: from must be before to")
	}
	for _, ch := range model.AllChannels { // preflight.go: a channel without a usable account is left FAILED
		switch a := e.adapters(ch); {
		case accountOptional(a):
			f.OptionalAccountChannels = append(f.OptionalAccountChannels, ch)
		case needsAccount(a):
			f.AccountChannels = append(f.AccountChannels, ch)
		}
	}
	if preview {
		return e.store.CountRetryMatching(ctx, f)
	}
	var (
		total int
		after int64
	)
	for total < e.cfg.BulkRetryLimit {
		n := min(e.cfg.BulkRetryBatch, e.cfg.BulkRetryLimit-total)
		rows, dists, last, err := e.store.RetryMatchingBatch(ctx, f, after, n, actor, e.enqueue)
		if err != nil {
			if total > 0 {
				return total, fmt.Errorf("bulk retry stopped after %d channels: %w", total, err)
			}
			return 0, err
		}
		for _, d := range dists {
			e.cacheDistribution(ctx, d)
		}
		total += len(rows)
		if last == after { // nothing more matched
			break
		}
		after = last
	}
	e.metrics.retries.WithLabelValues("bulk").Add(float64(total))
	e.log.InfoContext(ctx, "bulk retry", slog.String("channel", string(f.Channel)), slog.Int("retried", total), slog.String("actor", actor))
	return total, nil
}

// cancelJobs is the db.CancelJobsFunc of the cancels: River's JobCancelTx for each job, in the
// cancel's transaction. A queued job is cancelled at once; a running one, in this process or
// another, has its context cancelled (river.ErrJobCancelledRemotely) once the transaction commits.
func (e *Engine) cancelJobs(ctx context.Context, tx pgx.Tx, jobIDs []int64) error {
	for _, id := range jobIDs {
		if _, err := e.river.JobCancelTx(ctx, tx, id); err != nil && !errors.Is(err, river.ErrNotFound) {
			return fmt.Errorf("cancel job %d: %w", id, err)
		}
	}
	return nil
}

// CancelDistribution cancels every PENDING or IN_PROGRESS channel of an event's distribution:
// FAILED "cancelled by <actor>" under a new generation, their jobs cancelled (a running adapter call
// is abandoned), the overall status rolled up; one transaction. A channel whose post is published
// before its job notices ends SUCCESS with the post (DESIGN.md "Cancel"). Errors: ENOTFOUND (no
// distribution), ECONFLICT (nothing left to cancel).
func (e *Engine) CancelDistribution(ctx context.Context, eventID, actor string) (model.Distribution, error) {
	d, rows, err := e.store.CancelDistribution(ctx, eventID, actor, e.cancelJobs)
	if err != nil {
		return d, err
	}
	chans := make([]model.Channel, len(rows))
	for i, r := range rows {
		chans[i] = r.Channel
	}
	e.log.InfoContext(ctx, "distribution cancelled", slog.String("event_id", eventID), slog.Any("channels", chans), slog.String("actor", actor))
	e.cacheDistribution(ctx, d)
	return d, nil
}

// CancelChannel cancels one PENDING or IN_PROGRESS channel as CancelDistribution does. Errors:
// ENOTFOUND (no distribution, or the channel is not part of it), ECONFLICT "<CH> is <STATUS>; only
// PENDING or IN_PROGRESS channels can be cancelled" (nothing written), EINVALID (unknown channel).
func (e *Engine) CancelChannel(ctx context.Context, eventID string, ch model.Channel, actor string) (model.Distribution, error) {
	d, err := e.store.CancelChannel(ctx, eventID, ch, actor, e.cancelJobs)
	if err != nil {
		return d, err
	}
	e.log.InfoContext(ctx, "channel cancelled", slog.String("event_id", eventID), slog.String("channel", string(ch)), slog.String("actor", actor))
	e.cacheDistribution(ctx, d)
	return d, nil
}

// ProbeChannel is staff's "probe now" for a channel paused by its circuit breaker: the next probe
// is due at once and the waiting jobs are woken, so the first of them runs as the probe. Audited.
// ECONFLICT when the channel's breaker is not open.
func (e *Engine) ProbeChannel(ctx context.Context, ch model.Channel, actor, ip string) (model.BreakerStatus, error) {
	if !ch.Valid() {
		return model.BreakerStatus{}, model.Errork(model.EINVALID, "err.unknown_channel", "unknown channel %q", string(ch))
	}
	if e.breaker == nil || !e.breaker.Rules().Enabled() {
		return model.BreakerStatus{}, model.Errork(model.ECONFLICT, "err.not_paused", "%s is not paused", ch)
	}
	if st := e.breaker.Status(ctx, ch); !st.Paused() {
		return st, model.Errork(model.ECONFLICT, "err.not_paused", "%s is not paused", ch)
	}
	st, err := e.breaker.ProbeNow(ctx, ch)
	if err != nil {
		return st, fmt.Errorf("probe %s: %w", ch, err)
	}
	if err := e.store.AddAudit(ctx, model.AuditEntry{Actor: actor, Action: "channel.probe", Channel: string(ch),
		Detail: "probe now: breaker " + string(st.State), IP: ip}); err != nil {
		return st, err
	}
	e.log.InfoContext(ctx, "channel probe requested", slog.String("channel", string(ch)), slog.String("actor", actor))
	e.wakePaused(ctx, ch)
	return st, nil
}

// BreakerStatuses returns every channel's circuit breaker (the reports health strip).
func (e *Engine) BreakerStatuses(ctx context.Context) []model.BreakerStatus {
	if e.breaker == nil || !e.breaker.Rules().Enabled() {
		out := make([]model.BreakerStatus, len(model.AllChannels))
		for i, ch := range model.AllChannels {
			out[i] = model.BreakerStatus{Channel: ch, State: model.BreakerClosed}
		}
		return out
	}
	return e.breaker.Statuses(ctx)
}
