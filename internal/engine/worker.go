package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// PublishArgs is one job: publish one channel of one distribution at one attempt generation.
// Uniqueness is by (distribution, event, channel, generation): a duplicate enqueue of the same
// generation is skipped, while a manual retry or a rescue (new generation) is a new job even when
// the earlier one has completed (RELIABILITY D4). Trigger is not part of the key.
type PublishArgs struct {
	DistributionStatusID int64         `json:"distribution_status_id" river:"unique"`
	EventID              string        `json:"event_id" river:"unique"`
	Channel              model.Channel `json:"channel" river:"unique"`
	Generation           int           `json:"generation" river:"unique"`
	Trigger              string        `json:"trigger"`
}

// Kind is the River job kind.
func (PublishArgs) Kind() string { return db.PublishJobKind }

// InsertOpts puts every publish job, however inserted, on the channels queue with uniqueness by
// args. MaxAttempts comes from the client (Config.MaxAttempts).
func (PublishArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueChannels, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// enqueue is the db.EnqueueFunc of every action: one job per row, in the caller's transaction.
func (e *Engine) enqueue(ctx context.Context, tx pgx.Tx, rows []model.ChannelState, trigger string) error {
	if len(rows) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(rows))
	for i, r := range rows {
		params[i] = river.InsertManyParams{
			Args: PublishArgs{
				DistributionStatusID: r.DistributionStatusID,
				EventID:              r.EventID,
				Channel:              r.Channel,
				Generation:           r.Generation,
				Trigger:              trigger,
			},
			InsertOpts: &river.InsertOpts{MaxAttempts: e.cfg.MaxAttempts},
		}
	}
	res, err := e.river.InsertManyTx(ctx, tx, params)
	if err != nil {
		return err
	}
	for i, r := range res {
		if r.UniqueSkippedAsDuplicate {
			e.log.WarnContext(ctx, "publish job already queued for this generation", slog.String("event_id", rows[i].EventID),
				slog.String("channel", string(rows[i].Channel)), slog.Int("generation", rows[i].Generation))
		}
	}
	return nil
}

type publishWorker struct {
	river.WorkerDefaults[PublishArgs]
	e *Engine
}

func (w *publishWorker) Work(ctx context.Context, job *river.Job[PublishArgs]) error {
	return w.e.runChannel(ctx, job.JobRow, job.Args)
}

// dbCtx bounds a status write and detaches it from the job context, so an attempt's outcome is
// recorded even when the job timed out or the worker is stopping.
func dbCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
}

// runChannel is one attempt of one channel (DESIGN.md "Distribution engine"). Its return value
// tells River what happens next: nil (done), JobCancel (final failure, no retry), JobSnooze (run
// again later without burning an attempt) or an error (retry with the policy, or discard when
// attempts are exhausted, after the channel has been marked FAILED).
func (e *Engine) runChannel(ctx context.Context, job *rivertype.JobRow, args PublishArgs) error {
	log := e.log.With(slog.String("event_id", args.EventID), slog.String("channel", string(args.Channel)),
		slog.Int("generation", args.Generation), slog.Int("job_attempt", job.Attempt))
	trigger := args.Trigger
	if job.Attempt > 1 {
		trigger = "auto-retry"
	}
	if trigger == "" {
		trigger = "system"
	}

	// Quiet hours first (quiet.go): a KAKAO job due in the window waits for its end, no attempt.
	if until, quiet := e.quietUntil(args.Channel); quiet {
		return e.waitQuietHours(ctx, log, args, until)
	}
	// The breaker decides before the claim: a paused channel keeps its status and gets no attempt.
	ticket := e.breaker.allow(ctx, args.Channel)
	if !ticket.Run {
		return e.pauseForBreaker(ctx, log, args, ticket.Until)
	}
	outcome := model.BreakerNeutral // what the channel call said about the channel's health
	defer func() { e.breakerDone(ctx, ticket, args, outcome) }()

	cctx, cancel := dbCtx(ctx)
	run, ok, err := e.store.ClaimChannel(cctx, args.DistributionStatusID, args.Channel, args.Generation, trigger)
	cancel()
	if err != nil {
		return err // database trouble: River retries
	}
	if !ok {
		// A newer generation owns the channel, or it is already finished: this job is stale.
		e.metrics.jobs.WithLabelValues(string(args.Channel), "stale").Inc()
		log.InfoContext(ctx, "stale publish job skipped")
		return nil
	}
	// The claim is the attempt's first status write; its cache write goes with the first progress
	// write, at most progressEvery later (or with the finish, whichever comes first).
	prog := e.progressFor(ctx, log, run)
	defer prog.stop()

	adapter := e.adapters(args.Channel)
	if adapter == nil {
		return e.finishFailed(ctx, log, run, &channels.Error{Kind: channels.Permanent,
			Message: fmt.Sprintf("channel %s is not configured", args.Channel)}, "", time.Now())
	}

	req := channels.Request{
		EventID:     run.Event.ID,
		Channel:     args.Channel,
		Title:       run.Event.Title,
		Description: run.Event.Description,
		ImageURL:    run.Event.ImageURL,
		StoreName:   run.Event.StoreName,
		// The key changes only with a manual retry (retries), not with the fence generation: a
		// reconciler re-drive bumps the generation but must not publish a second post if the lost
		// attempt had already published. After a manual retry the earlier attempts all failed, so a
		// new key is what staff asked for.
		IdempotencyKey: fmt.Sprintf("%d:%s:r%d", args.DistributionStatusID, args.Channel, run.State.Retries),
	}
	start := time.Now()
	var res channels.Result
	var perr error
	if aerr := e.attachAccount(ctx, adapter, run, &req); aerr != nil {
		perr = aerr // accounts.go; says nothing about the channel's health (breaker neutral)
	} else {
		res, perr = adapter.Publish(ctx, req, prog.report)
		outcome = breakerOutcome(ctx, perr)
	}
	run.State.Progress = prog.stop() // the latest progress, written with the finish (finishOf)
	if perr == nil {
		return e.finishSuccess(ctx, log, run, res, start)
	}

	// The job context ended: shutdown, River's job timeout, or an operator cancelling the job.
	if ctx.Err() != nil {
		switch {
		case errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely):
			return e.finishFailed(ctx, log, run, &channels.Error{Kind: channels.Permanent,
				Message: "the job was cancelled by an operator"}, "", start)
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			perr = &channels.Error{Kind: channels.Temporary,
				Message: fmt.Sprintf("the channel did not finish within %s", e.cfg.JobTimeout), Detail: perr.Error()}
		default:
			return e.finishInterrupted(ctx, log, run, start)
		}
	}

	var ce *channels.Error
	if !errors.As(perr, &ce) {
		log.ErrorContext(ctx, "adapter returned an unexpected error", slog.String("error", perr.Error()))
		ce = &channels.Error{Kind: channels.Temporary, Message: "unexpected error while publishing"}
	}
	e.metrics.errorKinds.WithLabelValues(string(args.Channel), errorKindLabel(ce.Kind)).Inc()
	switch ce.Kind {
	case channels.Permanent:
		return e.finishFailed(ctx, log, run, ce, "", start)
	case channels.NeedsReconnect:
		return e.finishNeedsReconnect(ctx, log, run, req, ce, start) // accounts.go
	case channels.RateLimited:
		if e.rateLimitSnoozes(ctx, log, run) < e.cfg.MaxSnoozes {
			return e.finishSnoozed(ctx, log, run, ce, start)
		}
		// Rate limited for too long: count it as a failed attempt from now on.
	}
	if job.Attempt >= job.MaxAttempts {
		prefix := fmt.Sprintf("failed after %d attempts: ", job.Attempt)
		if job.Attempt == 1 {
			prefix = "failed after 1 attempt: "
		}
		return e.finishFailed(ctx, log, run, ce, prefix, start)
	}
	return e.finishRetry(ctx, log, run, ce, job, start)
}

// breakerOutcome is what a Publish error says about the channel's health: only channel-side
// failures (Temporary: 5xx, timeouts, resets) count against it; a permanent 4xx or a 429 is about
// the request, and a call the job gave up on says nothing.
func breakerOutcome(ctx context.Context, err error) model.BreakerOutcome {
	var ce *channels.Error
	switch {
	case err == nil:
		return model.BreakerSuccess
	case ctx.Err() != nil:
		return model.BreakerNeutral
	case !errors.As(err, &ce), ce.Kind == channels.Temporary:
		return model.BreakerFailure
	}
	return model.BreakerNeutral
}

// maxPauseWait bounds one breaker snooze: a waiting job asks the breaker again at least this
// often. The probe's outcome and "probe now" wake waiting jobs at once, but not one that is just
// being snoozed (River records the snooze after the worker returns); this bounds its wait.
const maxPauseWait = 5 * time.Second

// pauseForBreaker snoozes a job whose channel's breaker is open until the next probe time (River
// gives the attempt back): the channel keeps its status and says channel_paused until then.
func (e *Engine) pauseForBreaker(ctx context.Context, log *slog.Logger, args PublishArgs, until time.Time) error {
	if !e.recordWait(ctx, log, args, model.WaitChannelPaused, until, "paused", "channel paused by its circuit breaker; waiting") {
		return nil
	}
	wait := min(max(until.Sub(e.breaker.now()), 100*time.Millisecond), maxPauseWait)
	return river.JobSnooze(wait)
}

// recordWait writes why a job's channel waits and until when, before the job is snoozed (the
// channel keeps its status), and counts the job under metric; false when the job is stale (its
// channel finished or a newer generation owns it), which then ends without a snooze.
func (e *Engine) recordWait(ctx context.Context, log *slog.Logger, args PublishArgs, reason model.WaitingReason, until time.Time, metric, msg string) bool {
	cctx, cancel := dbCtx(ctx)
	st, changed, ok, err := e.store.PauseChannel(cctx, args.DistributionStatusID, args.Channel, args.Generation, reason, until)
	cancel()
	switch {
	case err != nil:
		log.WarnContext(ctx, "could not record why the channel waits", slog.String("reason", string(reason)), slog.String("error", err.Error()))
	case !ok:
		e.metrics.jobs.WithLabelValues(string(args.Channel), "stale").Inc()
		log.InfoContext(ctx, "stale publish job skipped")
		return false
	case changed:
		e.cacheChannel(ctx, st)
		log.InfoContext(ctx, msg, slog.Time("until", until))
	}
	e.metrics.jobs.WithLabelValues(string(args.Channel), metric).Inc()
	return true
}

// breakerDone feeds a call's outcome to the breaker. When it opened or closed the breaker, the
// jobs waiting on it are woken: after a successful probe they run; after a failed one they see
// the new probe time and wait again (their channels then say until when).
func (e *Engine) breakerDone(ctx context.Context, t breakerTicket, args PublishArgs, o model.BreakerOutcome) {
	if _, changed := e.breaker.done(ctx, t, args.Channel, args.EventID, o); changed || t.Probe {
		e.wakePaused(ctx, args.Channel)
	}
}

// wakePaused makes the jobs waiting on ch's breaker run now.
func (e *Engine) wakePaused(ctx context.Context, ch model.Channel) {
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	n, err := e.store.WakePausedJobs(cctx, ch, model.WaitChannelPaused)
	if err != nil {
		e.log.WarnContext(ctx, "could not wake the jobs waiting on the breaker", slog.String("channel", string(ch)), slog.String("error", err.Error()))
		return
	}
	if n > 0 {
		e.log.InfoContext(ctx, "jobs waiting on the breaker woken", slog.String("channel", string(ch)), slog.Int("jobs", n))
	}
}

// rateLimitSnoozes is how often this job was snoozed for a 429: its attempts recorded "snoozed"
// (one generation is one job). River's own count (metadata "snoozes") also counts the breaker's
// pauses, which are not the channel's rate limit and must not use up its budget. When the count
// cannot be read, the budget is taken as spent: the 429 then counts as a failed attempt, which
// River retries with its policy.
func (e *Engine) rateLimitSnoozes(ctx context.Context, log *slog.Logger, run db.ChannelRun) int {
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	n, err := e.store.RateLimitSnoozes(cctx, run.State.ID, run.State.Generation)
	if err != nil {
		log.WarnContext(ctx, "could not count rate-limit snoozes", slog.String("error", err.Error()))
		return e.cfg.MaxSnoozes
	}
	return n
}

// plainMessage is the channel error in plain words with its HTTP status.
func plainMessage(ce *channels.Error) string {
	msg := ce.Message
	if msg == "" {
		msg = "the channel failed"
	}
	if ce.HTTPStatus != 0 && !strings.Contains(msg, "HTTP") {
		msg = fmt.Sprintf("%s (HTTP %d)", msg, ce.HTTPStatus)
	}
	return msg
}

// finishOf is the finish record of a claimed run: its channel, generation and attempt, the new
// status and outcome, the channel's error message, and the channel error's detail if any.
func finishOf(run db.ChannelRun, status model.ChannelStatus, outcome, msg string, ce *channels.Error) db.ChannelFinish {
	f := db.ChannelFinish{
		ChannelStatusID: run.State.ID, DistributionStatusID: run.State.DistributionStatusID,
		Generation: run.State.Generation, AttemptID: run.AttemptID,
		Status: status, Outcome: outcome, ErrorMessage: msg, Progress: run.State.Progress,
	}
	if ce != nil {
		f.AttemptError, f.HTTPStatus = ce.Error(), ce.HTTPStatus
	}
	return f
}

func (e *Engine) finish(ctx context.Context, f db.ChannelFinish) (db.ChannelFinishResult, error) {
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	f.OnFinish = e.alertTx
	res, err := e.store.FinishChannel(cctx, f)
	if err != nil {
		return res, err
	}
	if res.Stale {
		return res, nil
	}
	e.noteRollup(res.Previous, res.Distribution)
	if res.Previous != res.Distribution.OverallStatus || f.Status.Terminal() {
		e.cacheChannelOverall(ctx, res.Channel, res.Distribution)
	} else {
		e.cacheChannel(ctx, res.Channel)
	}
	return res, nil
}

// cacheChannelOverall writes a finished channel and the overall state: in one round trip when the
// cache can (*cache.Cache), else as cacheChannel then cacheOverall.
func (e *Engine) cacheChannelOverall(ctx context.Context, c model.ChannelState, d model.Distribution) {
	both, ok := e.cache.(interface {
		PutChannelOverall(ctx context.Context, c model.ChannelState, d model.Distribution) error
	})
	if !ok {
		e.cacheChannel(ctx, c)
		e.cacheOverall(ctx, d)
		return
	}
	cctx, cancel := cacheCtx(ctx)
	defer cancel()
	if err := both.PutChannelOverall(cctx, c, d); err != nil {
		e.cacheFailed(c.EventID, err)
	}
}

func (e *Engine) observe(ch model.Channel, outcome string, start time.Time) {
	e.metrics.jobs.WithLabelValues(string(ch), outcome).Inc()
	e.metrics.publish.WithLabelValues(string(ch), outcome).Observe(time.Since(start).Seconds())
}

func (e *Engine) finishSuccess(ctx context.Context, log *slog.Logger, run db.ChannelRun, r channels.Result, start time.Time) error {
	result := &db.ChannelResult{
		DistributionID: r.DistributionID,
		PostID:         r.PostID,
		PostURL:        r.PostURL,
		MessageID:      r.MessageID,
		EstimatedViews: r.EstimatedViews,
	}
	if len(r.ImpressionSchedule) > 0 {
		b, err := json.Marshal(r.ImpressionSchedule)
		if err != nil {
			return fmt.Errorf("encode impression schedule: %w", err)
		}
		result.ImpressionSchedule = string(b)
	}
	f := finishOf(run, model.StatusSuccess, model.OutcomeSuccess, "", nil)
	f.Result = result
	res, err := e.finish(ctx, f)
	if err != nil {
		// Not recorded: River runs the job again; the idempotency key returns the same post.
		return err
	}
	e.observe(run.State.Channel, model.OutcomeSuccess, start)
	log.InfoContext(ctx, "channel published", slog.Bool("stale", res.Stale), slog.Duration("took", time.Since(start)))
	return nil
}

// finishFailed fails the channel for good; prefix ("failed after 3 attempts: ") is prepended to
// the channel's error message.
func (e *Engine) finishFailed(ctx context.Context, log *slog.Logger, run db.ChannelRun, ce *channels.Error, prefix string, start time.Time) error {
	msg := prefix + plainMessage(ce)
	if strings.HasPrefix(msg, model.CancelledPrefix) {
		// "cancelled…" means a person cancelled (model.ChannelState.Cancelled); a channel's own
		// wording must not read as that.
		msg = "the channel answered: " + msg
	}
	res, err := e.finish(ctx, finishOf(run, model.StatusFailed, model.OutcomeFailed, msg, ce))
	if err != nil {
		return err
	}
	e.observe(run.State.Channel, model.OutcomeFailed, start)
	if res.Stale {
		// A cancel (or a retry) moved the channel on while this attempt ran: nothing was recorded.
		log.InfoContext(ctx, "attempt ended after the channel moved on (cancelled or retried)", slog.String("error", ce.Error()))
	} else {
		log.WarnContext(ctx, "channel failed", slog.String("error", ce.Error()), slog.Int("http_status", ce.HTTPStatus))
	}
	// Cancel rather than error, so River neither retries nor counts it as discarded work.
	return river.JobCancel(errors.New(msg))
}

// finishRetry records a failed attempt that River will retry. The channel stays IN_PROGRESS
// (the job still owns it; progress is kept) and error_message says what failed, so the UI can
// show "retrying".
func (e *Engine) finishRetry(ctx context.Context, log *slog.Logger, run db.ChannelRun, ce *channels.Error, job *rivertype.JobRow, start time.Time) error {
	msg := fmt.Sprintf("attempt %d of %d failed: %s; retrying automatically", job.Attempt, job.MaxAttempts, plainMessage(ce))
	f := finishOf(run, model.StatusInProgress, model.OutcomeRetry, msg, ce)
	next := e.policy.Plan(job) // River's next run of this job: the policy answers River the same
	f.WaitingReason, f.NextAttemptAt = model.WaitRetryBackoff, &next
	_, err := e.finish(ctx, f)
	if err != nil {
		log.WarnContext(ctx, "could not record failed attempt", slog.String("error", err.Error()))
	}
	e.observe(run.State.Channel, model.OutcomeRetry, start)
	log.InfoContext(ctx, "channel attempt failed; will retry", slog.String("error", ce.Error()))
	return errors.New(msg)
}

// finishSnoozed honours a 429: the job runs again after Retry-After (capped) without burning an
// attempt (River gives a snoozed job its attempt back).
func (e *Engine) finishSnoozed(ctx context.Context, log *slog.Logger, run db.ChannelRun, ce *channels.Error, start time.Time) error {
	wait := ce.RetryAfter
	if wait <= 0 {
		wait = e.cfg.RetryBaseDelay
	}
	wait = min(wait, e.cfg.SnoozeCap)
	msg := fmt.Sprintf("rate limited by the channel; trying again in %s", wait.Round(time.Second))
	if wait < time.Second {
		msg = "rate limited by the channel; trying again shortly"
	}
	f := finishOf(run, model.StatusInProgress, model.OutcomeSnoozed, msg, ce)
	f.WaitingReason, f.NextAttemptIn = model.WaitRateLimited, wait
	_, err := e.finish(ctx, f)
	if err != nil {
		log.WarnContext(ctx, "could not record snoozed attempt", slog.String("error", err.Error()))
	}
	e.observe(run.State.Channel, model.OutcomeSnoozed, start)
	log.InfoContext(ctx, "channel rate limited; snoozing", slog.Duration("retry_after", wait))
	return river.JobSnooze(wait)
}

// finishInterrupted handles a worker that is stopping: the attempt is recorded as "retry" and the
// job is snoozed briefly, which re-queues it without burning an attempt; another process (or this
// one after restart) resumes with the same idempotency key.
func (e *Engine) finishInterrupted(ctx context.Context, log *slog.Logger, run db.ChannelRun, start time.Time) error {
	f := finishOf(run, model.StatusInProgress, model.OutcomeRetry, "interrupted by a service restart; resuming shortly", nil)
	f.AttemptError = "interrupted: the worker stopped"
	f.WaitingReason = model.WaitQueued
	_, err := e.finish(ctx, f)
	if err != nil {
		log.WarnContext(ctx, "could not record interrupted attempt", slog.String("error", err.Error()))
	}
	e.observe(run.State.Channel, "interrupted", start)
	log.InfoContext(ctx, "channel interrupted by shutdown; re-queued")
	return river.JobSnooze(time.Second)
}
