package engine_test

// One file on purpose: the tests share one River + PostgreSQL + simulator fixture (TestMain) and
// together specify the engine's reliability rules (RELIABILITY.md) in order.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river/rivertype"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// --- fakes -------------------------------------------------------------------------------------

// fakeChannels is a scripted set of adapters. script decides each call's outcome (call is 1-based
// per channel); nil script = success with the channel's usual result.
type fakeChannels struct {
	mu     sync.Mutex
	calls  map[model.Channel]int
	keys   map[model.Channel][]string
	script func(ctx context.Context, ch model.Channel, call int) (channels.Result, error)
}

func newFake(script func(ctx context.Context, ch model.Channel, call int) (channels.Result, error)) *fakeChannels {
	return &fakeChannels{calls: map[model.Channel]int{}, keys: map[model.Channel][]string{}, script: script}
}

func (f *fakeChannels) adapter(ch model.Channel) channels.Adapter { return fakeAdapter{f: f, ch: ch} }

func (f *fakeChannels) count(ch model.Channel) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[ch]
}

func (f *fakeChannels) keysOf(ch model.Channel) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.keys[ch]...)
}

type fakeAdapter struct {
	f  *fakeChannels
	ch model.Channel
}

func (a fakeAdapter) Publish(ctx context.Context, req channels.Request, progress func(int)) (channels.Result, error) {
	a.f.mu.Lock()
	a.f.calls[a.ch]++
	call := a.f.calls[a.ch]
	a.f.keys[a.ch] = append(a.f.keys[a.ch], req.IdempotencyKey)
	a.f.mu.Unlock()
	progress(30)
	progress(20) // out of order: must not lower the stored progress
	progress(60)
	if a.f.script != nil {
		return a.f.script(ctx, a.ch, call)
	}
	return resultFor(a.ch), nil
}

func resultFor(ch model.Channel) channels.Result {
	slots := []model.ImpressionSlot{{Start: "2026-01-01T19:00:00Z", End: "2026-01-01T19:30:00Z", Slot: "prime", Spots: 3}}
	switch ch {
	case model.ChannelUridongneTV, model.ChannelGiniTV:
		return channels.Result{DistributionID: "dist-" + string(ch), EstimatedViews: 1200, ImpressionSchedule: slots}
	case model.ChannelRingoBiz:
		return channels.Result{DistributionID: "dist-RINGOBIZ", EstimatedViews: 300}
	case model.ChannelInstagram, model.ChannelNaver:
		return channels.Result{PostID: "post-" + string(ch), PostURL: "https://example.com/" + string(ch), EstimatedViews: 900}
	default:
		return channels.Result{MessageID: "msg-KAKAO", EstimatedViews: 450}
	}
}

// recCache records cache writes; fail makes every write fail (Redis down).
type recCache struct {
	mu       sync.Mutex
	fail     bool
	channels int
	overall  int
	dists    []model.Distribution
}

func (c *recCache) PutChannel(context.Context, model.ChannelState) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.channels++
	if c.fail {
		return errors.New("redis down")
	}
	return nil
}

func (c *recCache) PutOverall(_ context.Context, d model.Distribution) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.overall++
	if c.fail {
		return errors.New("redis down")
	}
	return nil
}

func (c *recCache) PutDistribution(_ context.Context, d model.Distribution) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dists = append(c.dists, d)
	if c.fail {
		return errors.New("redis down")
	}
	return nil
}

// --- helpers -----------------------------------------------------------------------------------

type harness struct {
	t     testing.TB
	store *db.DB
	eng   *engine.Engine
	cache *recCache
	reg   *prometheus.Registry
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newHarness builds an engine on a fresh database (or store, when given) and starts it when it
// has workers. Delays are tiny so retries happen at once.
func newHarness(t testing.TB, cfg engine.Config, fake *fakeChannels, store *db.DB) *harness {
	t.Helper()
	adapters := func(model.Channel) channels.Adapter { return nil }
	if fake != nil {
		adapters = fake.adapter
	}
	return newHarnessWith(t, cfg, adapters, store, nil)
}

// newHarnessWith is newHarness with any adapters and cache (nil cache = a recording fake).
func newHarnessWith(t testing.TB, cfg engine.Config, adapters func(model.Channel) channels.Adapter, store *db.DB, cache engine.Cache) *harness {
	t.Helper()
	return newHarnessOpts(t, cfg, store, engine.Options{Adapters: adapters, Cache: cache})
}

// newHarnessOpts is newHarnessWith with any engine options (nil Cache = a recording fake; the
// logger and metrics are the harness's).
func newHarnessOpts(t testing.TB, cfg engine.Config, store *db.DB, opts engine.Options) *harness {
	t.Helper()
	if store == nil {
		store = dbtest.New(t)
	}
	if cfg.RetryBaseDelay == 0 {
		cfg.RetryBaseDelay, cfg.RetryMaxDelay = time.Millisecond, 5*time.Millisecond
	}
	cfg.FetchPollInterval = 20 * time.Millisecond
	cfg.MaintenanceStartAtOnce = true
	h := &harness{t: t, store: store, cache: &recCache{}, reg: prometheus.NewRegistry()}
	if opts.Cache == nil {
		opts.Cache = h.cache
	}
	opts.Logger, opts.Metrics = testLogger(t), h.reg
	eng, err := engine.New(cfg, store, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.eng = eng
	if err := eng.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := eng.Stop(ctx); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	return h
}

func (h *harness) event(id string) {
	h.t.Helper()
	if _, err := h.store.Pool.Exec(context.Background(), `INSERT INTO events (id, title) VALUES ($1, $2)`, id, "Event "+id); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) start(id string, chans ...model.Channel) model.Distribution {
	h.t.Helper()
	h.event(id)
	d, err := h.eng.StartDistribution(context.Background(), id, chans, "marketer@x")
	if err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) count(sql string, args ...any) int {
	h.t.Helper()
	var n int
	if err := h.store.Pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		h.t.Fatalf("%s: %v", sql, err)
	}
	return n
}

func (h *harness) overall(eventID string) string {
	var s string
	_ = h.store.Pool.QueryRow(context.Background(), `SELECT overall_status FROM distribution_status WHERE event_id = $1`, eventID).Scan(&s)
	return s
}

// channel reads one channel row.
func (h *harness) channel(eventID string, ch model.Channel) model.ChannelState {
	h.t.Helper()
	var c model.ChannelState
	err := h.store.Pool.QueryRow(context.Background(), `SELECT status, COALESCE(progress, 0), distribution_id,
			estimated_views, impression_schedule, post_url, post_id, message_id, error_message, COALESCE(retries, 0),
			last_retry_at, completed_at, generation, distribution_status_id, waiting_reason, next_attempt_at
		FROM channel_status WHERE event_id = $1 AND channel = $2`, eventID, string(ch)).Scan(
		&c.Status, &c.Progress, &c.DistributionID, &c.EstimatedViews, &c.ImpressionSchedule, &c.PostURL, &c.PostID,
		&c.MessageID, &c.ErrorMessage, &c.Retries, &c.LastRetryAt, &c.CompletedAt, &c.Generation, &c.DistributionStatusID,
		&c.WaitingReason, &c.NextAttemptAt)
	if err != nil {
		h.t.Fatalf("read channel %s: %v", ch, err)
	}
	c.Channel = ch
	return c
}

// attempts returns "trigger/outcome/http" per attempt of a channel, in order.
func (h *harness) attempts(eventID string, ch model.Channel) []string {
	h.t.Helper()
	rows, err := h.store.Pool.Query(context.Background(), `SELECT trigger || '/' || outcome || '/' || COALESCE(http_status::text, '-')
		FROM channel_attempts WHERE event_id = $1 AND channel = $2 ORDER BY attempt`, eventID, string(ch))
	if err != nil {
		h.t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		h.t.Fatal(err)
	}
	return out
}

func (h *harness) waitOverall(eventID, want string) {
	h.t.Helper()
	h.waitOverallWithin(eventID, want, 20*time.Second)
}

func (h *harness) waitOverallWithin(eventID, want string, d time.Duration) {
	h.t.Helper()
	testkit.Eventually(h.t, d, eventID+" overall "+want, func() bool { return h.overall(eventID) == want })
}

// counter sums a counter family's samples matching labels.
func (h *harness) counter(name string, labels map[string]string) float64 {
	h.t.Helper()
	fams, err := h.reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	var sum float64
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

func str(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// --- tests -------------------------------------------------------------------------------------

// RELIABILITY D1 with River: rows and one job per channel commit together; 50 concurrent starts
// give one distribution, six jobs and 49 conflicts that carry it.
func TestStartEnqueuesOneJobPerChannel(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{MaxAttempts: 4}, nil, nil) // insert-only (web role)
	h.event("ev1")
	const n = 50
	var (
		wg        sync.WaitGroup
		barrier   = make(chan struct{})
		ok, confl atomic.Int32
	)
	for range n {
		wg.Go(func() {
			<-barrier
			_, err := h.eng.StartDistribution(context.Background(), "ev1", model.AllChannels, "marketer@x")
			var ae *model.AlreadyStartedError
			switch {
			case err == nil:
				ok.Add(1)
			case errors.As(err, &ae) && model.ErrorCode(err) == model.ECONFLICT && len(ae.Distribution.Channels) == 6:
				confl.Add(1)
			default:
				t.Errorf("start: %v", err)
			}
		})
	}
	close(barrier)
	wg.Wait()
	if ok.Load() != 1 || confl.Load() != n-1 {
		t.Fatalf("ok=%d conflicts=%d", ok.Load(), confl.Load())
	}
	if got := h.count(`SELECT count(*) FROM distribution_status`); got != 1 {
		t.Fatalf("distributions = %d", got)
	}
	rows, err := h.store.Pool.Query(context.Background(), `SELECT args, queue, state::text, max_attempts FROM river_job ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	type job struct {
		Args        []byte
		Queue       string
		State       string
		MaxAttempts int
	}
	jobs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[job])
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 6 {
		t.Fatalf("jobs = %d, want 6", len(jobs))
	}
	seen := map[model.Channel]bool{}
	for _, j := range jobs {
		var a engine.PublishArgs
		if err := json.Unmarshal(j.Args, &a); err != nil {
			t.Fatal(err)
		}
		if j.Queue != engine.QueueChannels || j.State != "available" || j.MaxAttempts != 4 ||
			a.EventID != "ev1" || a.Generation != 1 || a.Trigger != "system" || a.DistributionStatusID == 0 {
			t.Errorf("job = %+v args %+v", j, a)
		}
		seen[a.Channel] = true
	}
	if len(seen) != 6 {
		t.Errorf("jobs cover %d channels", len(seen))
	}
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	if len(h.cache.dists) != 1 || len(h.cache.dists[0].Channels) != 6 {
		t.Errorf("cache writes: %d distributions", len(h.cache.dists))
	}
}

// Concurrent starts of many events go through the group commit together: every event started
// once, the other start of each answered with the conflict, six jobs per distribution.
func TestConcurrentStartsOfManyEvents(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{}, nil, nil)
	const events = 40
	for i := range events {
		h.event(fmt.Sprintf("many-%d", i))
	}
	var (
		wg        sync.WaitGroup
		barrier   = make(chan struct{})
		ok, confl atomic.Int32
	)
	for i := range 2 * events {
		wg.Go(func() {
			<-barrier
			d, err := h.eng.StartDistribution(context.Background(), fmt.Sprintf("many-%d", i%events), model.AllChannels, "m@x")
			var ae *model.AlreadyStartedError
			switch {
			case err == nil && d.EventID == fmt.Sprintf("many-%d", i%events) && len(d.Channels) == 6:
				ok.Add(1)
			case errors.As(err, &ae) && ae.Distribution.EventID == fmt.Sprintf("many-%d", i%events):
				confl.Add(1)
			default:
				t.Errorf("start many-%d: %+v, %v", i%events, d, err)
			}
		})
	}
	close(barrier)
	wg.Wait()
	if ok.Load() != events || confl.Load() != events {
		t.Fatalf("started %d, conflicts %d; want %d each", ok.Load(), confl.Load(), events)
	}
	if got := h.count(`SELECT count(*) FROM river_job`); got != 6*events {
		t.Errorf("jobs = %d, want %d", got, 6*events)
	}
	if got := h.count(`SELECT count(DISTINCT event_id) FROM distribution_status`); got != events {
		t.Errorf("distributions = %d, want %d", got, events)
	}
}

// Issue 13 point 5: 60 distributions started at once on a worker that runs two jobs at a time.
// While the first jobs hold the workers, every other channel says why it waits (PENDING,
// waitingReason "queued"), never a frozen 0 % "in progress"; the running ones carry no reason.
func TestManyStartsShowQueued(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	fake := newFake(func(ctx context.Context, ch model.Channel, _ int) (channels.Result, error) {
		select {
		case <-release:
		case <-ctx.Done():
			return channels.Result{}, ctx.Err()
		}
		return resultFor(ch), nil
	})
	h := newHarness(t, engine.Config{Workers: 2}, fake, nil)
	const events = 60
	for i := range events {
		h.event(fmt.Sprintf("q-%d", i))
	}
	var wg sync.WaitGroup
	barrier := make(chan struct{})
	for i := range events {
		wg.Go(func() {
			<-barrier
			if _, err := h.eng.StartDistribution(context.Background(), fmt.Sprintf("q-%d", i), model.AllChannels, "m@x"); err != nil {
				t.Errorf("start q-%d: %v", i, err)
			}
		})
	}
	close(barrier)
	wg.Wait()
	testkit.Eventually(t, 20*time.Second, "two channels running", func() bool {
		return h.count(`SELECT count(*) FROM channel_status WHERE status = 'IN_PROGRESS'`) == 2
	})
	if n := h.count(`SELECT count(*) FROM channel_status
		WHERE status = 'PENDING' AND waiting_reason = 'queued' AND next_attempt_at IS NULL`); n != 6*events-2 {
		t.Errorf("queued channels = %d, want %d", n, 6*events-2)
	}
	if n := h.count(`SELECT count(*) FROM channel_status WHERE status = 'IN_PROGRESS' AND waiting_reason IS NOT NULL`); n != 0 {
		t.Errorf("%d running channels still carry a waiting reason", n)
	}
	close(release)
	testkit.Eventually(t, 60*time.Second, "all completed", func() bool {
		return h.count(`SELECT count(*) FROM distribution_status WHERE overall_status = 'COMPLETED'`) == events
	})
	if n := h.count(`SELECT count(*) FROM channel_status WHERE waiting_reason IS NOT NULL`); n != 0 {
		t.Errorf("%d finished channels still carry a waiting reason", n)
	}
}

func TestStartRejectsBadInputWithoutWriting(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{}, nil, nil)
	h.event("ev1")
	for _, tc := range []struct {
		event string
		chans []model.Channel
		code  string
	}{
		{"missing", []model.Channel{"KAKAO"}, model.ENOTFOUND},
		{"ev1", nil, model.EINVALID},
		{"ev1", []model.Channel{"KAKAO", "FAX"}, model.EINVALID},
		{"ev1", []model.Channel{"KAKAO", "KAKAO"}, model.EINVALID},
	} {
		_, err := h.eng.StartDistribution(context.Background(), tc.event, tc.chans, "m@x")
		if model.ErrorCode(err) != tc.code {
			t.Errorf("%s %v: %v, want %s", tc.event, tc.chans, err, tc.code)
		}
	}
	if n := h.count(`SELECT (SELECT count(*) FROM river_job) + (SELECT count(*) FROM distribution_status)`); n != 0 {
		t.Fatalf("%d rows written", n)
	}
}

func TestEndToEndAllChannelsSucceed(t *testing.T) {
	t.Parallel()
	fake := newFake(nil)
	h := newHarness(t, engine.Config{Workers: 6}, fake, nil)
	d := h.start("ev1", model.AllChannels...)
	h.waitOverall("ev1", "COMPLETED")

	for _, ch := range model.AllChannels {
		c := h.channel("ev1", ch)
		want := resultFor(ch)
		if c.Status != model.StatusSuccess || c.Progress != 100 || c.CompletedAt == nil || c.ErrorMessage != nil {
			t.Errorf("%s: status %s progress %d completed %v error %s", ch, c.Status, c.Progress, c.CompletedAt, str(c.ErrorMessage))
		}
		if c.EstimatedViews == nil || *c.EstimatedViews != want.EstimatedViews {
			t.Errorf("%s: estimated_views %v", ch, c.EstimatedViews)
		}
		switch ch {
		case model.ChannelUridongneTV, model.ChannelGiniTV:
			var slots []model.ImpressionSlot
			if err := json.Unmarshal([]byte(str(c.ImpressionSchedule)), &slots); err != nil || len(slots) != 1 || slots[0].Spots != 3 {
				t.Errorf("%s: impression_schedule %s (%v)", ch, str(c.ImpressionSchedule), err)
			}
			fallthrough
		case model.ChannelRingoBiz:
			if str(c.DistributionID) != want.DistributionID || c.PostID != nil || c.MessageID != nil {
				t.Errorf("%s: distribution_id %s post_id %s", ch, str(c.DistributionID), str(c.PostID))
			}
		case model.ChannelInstagram, model.ChannelNaver:
			if str(c.PostID) != want.PostID || str(c.PostURL) != want.PostURL || c.DistributionID != nil {
				t.Errorf("%s: post %s %s", ch, str(c.PostID), str(c.PostURL))
			}
		case model.ChannelKakao:
			if str(c.MessageID) != "msg-KAKAO" || c.ImpressionSchedule != nil {
				t.Errorf("%s: message_id %s", ch, str(c.MessageID))
			}
		}
		if got := h.attempts("ev1", ch); fmt.Sprint(got) != "[system/success/-]" {
			t.Errorf("%s attempts = %v", ch, got)
		}
		if keys := fake.keysOf(ch); len(keys) != 1 || keys[0] != fmt.Sprintf("%d:%s:r0", d.ID, ch) {
			t.Errorf("%s idempotency keys = %v", ch, keys)
		}
	}
	var completed *time.Time
	h.store.Pool.QueryRow(context.Background(), `SELECT completed_at FROM distribution_status WHERE id = $1`, d.ID).Scan(&completed)
	if completed == nil {
		t.Error("completed_at not set")
	}
	testkit.Eventually(t, 20*time.Second, "jobs completed", func() bool { return h.count(`SELECT count(*) FROM river_job WHERE state = 'completed'`) == 6 })
	if got := h.counter("distribution_channel_jobs_total", map[string]string{"outcome": "success"}); got != 6 {
		t.Errorf("success jobs metric = %v", got)
	}
	if got := h.counter("distribution_rollup_transitions_total", map[string]string{"to": "COMPLETED"}); got != 1 {
		t.Errorf("rollup metric = %v", got)
	}
}

// Temporary failures exhaust MAX_ATTEMPTS → FAILED with a readable message and the attempt
// history; a manual retry afterwards really runs (D4, even with the old job "completed") and
// reopens then completes the distribution.
func TestTemporaryFailuresThenManualRetry(t *testing.T) {
	t.Parallel()
	var failing atomic.Bool
	failing.Store(true)
	fake := newFake(func(_ context.Context, ch model.Channel, _ int) (channels.Result, error) {
		if ch == model.ChannelKakao && failing.Load() {
			return channels.Result{}, &channels.Error{Kind: channels.Temporary, HTTPStatus: 503,
				Message: "the channel is having problems", Detail: "503 Service Unavailable"}
		}
		return resultFor(ch), nil
	})
	h := newHarness(t, engine.Config{Workers: 4, MaxAttempts: 3}, fake, nil)
	d := h.start("ev1", model.ChannelNaver, model.ChannelKakao)
	h.waitOverall("ev1", "PARTIAL_SUCCESS")

	k := h.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusFailed || str(k.ErrorMessage) != "failed after 3 attempts: the channel is having problems (HTTP 503)" || k.CompletedAt == nil {
		t.Fatalf("KAKAO = %s %q completed %v", k.Status, str(k.ErrorMessage), k.CompletedAt)
	}
	if got := h.attempts("ev1", model.ChannelKakao); fmt.Sprint(got) != "[system/retry/503 auto-retry/retry/503 auto-retry/failed/503]" {
		t.Fatalf("attempts = %v", got)
	}
	if fake.count(model.ChannelKakao) != 3 {
		t.Fatalf("KAKAO published %d times", fake.count(model.ChannelKakao))
	}
	for _, key := range fake.keysOf(model.ChannelKakao) {
		if key != fmt.Sprintf("%d:KAKAO:r0", d.ID) {
			t.Fatalf("automatic retries must reuse the attempt's key, got %s", key)
		}
	}
	// Whatever state River left the old job in, make it "completed": River's default unique
	// states include completed, so only the generation in the key lets the retry through.
	testkit.Eventually(t, 20*time.Second, "old job finalized", func() bool {
		return h.count(`SELECT count(*) FROM river_job WHERE args->>'channel' = 'KAKAO' AND finalized_at IS NOT NULL`) == 1
	})
	if _, err := h.store.Pool.Exec(context.Background(), `UPDATE river_job SET state = 'completed' WHERE args->>'channel' = 'KAKAO'`); err != nil {
		t.Fatal(err)
	}

	failing.Store(false)
	got, err := h.eng.RetryChannel(context.Background(), "ev1", model.ChannelKakao, "staff@x")
	if err != nil {
		t.Fatal(err)
	}
	if got.OverallStatus != model.OverallInProgress || got.CompletedAt != nil {
		t.Fatalf("after retry: %s completed %v", got.OverallStatus, got.CompletedAt)
	}
	h.waitOverall("ev1", "COMPLETED")
	k = h.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusSuccess || k.Retries != 1 || k.LastRetryAt == nil || k.CompletedAt == nil ||
		k.ErrorMessage != nil || k.Generation != 2 || str(k.MessageID) != "msg-KAKAO" {
		t.Fatalf("KAKAO after retry = %+v", k)
	}
	if got := h.attempts("ev1", model.ChannelKakao); len(got) != 4 || got[3] != "retry:staff@x/success/-" {
		t.Fatalf("attempts = %v", got)
	}
	if keys := fake.keysOf(model.ChannelKakao); keys[3] != fmt.Sprintf("%d:KAKAO:r1", d.ID) {
		t.Fatalf("retry key = %s", keys[3])
	}
	if n := h.count(`SELECT count(*) FROM river_job WHERE args->>'channel' = 'KAKAO'`); n != 2 {
		t.Fatalf("KAKAO jobs = %d", n)
	}
}

func TestPermanentFailureFailsAtOnce(t *testing.T) {
	t.Parallel()
	fake := newFake(func(_ context.Context, ch model.Channel, _ int) (channels.Result, error) {
		return channels.Result{}, &channels.Error{Kind: channels.Permanent, HTTPStatus: 400,
			Message: "the channel rejected the post: the image is too large"}
	})
	h := newHarness(t, engine.Config{Workers: 2, MaxAttempts: 3}, fake, nil)
	h.cache.fail = true // Redis down must not matter
	h.start("ev1", model.ChannelNaver)
	h.waitOverall("ev1", "FAILED")
	c := h.channel("ev1", model.ChannelNaver)
	if str(c.ErrorMessage) != "the channel rejected the post: the image is too large (HTTP 400)" {
		t.Fatalf("error = %q", str(c.ErrorMessage))
	}
	if got := h.attempts("ev1", model.ChannelNaver); fmt.Sprint(got) != "[system/failed/400]" {
		t.Fatalf("attempts = %v", got)
	}
	testkit.Eventually(t, 20*time.Second, "job cancelled", func() bool { return h.count(`SELECT count(*) FROM river_job WHERE state = 'cancelled'`) == 1 })
	if fake.count(model.ChannelNaver) != 1 {
		t.Fatalf("published %d times", fake.count(model.ChannelNaver))
	}
}

// 429 with Retry-After snoozes the job without burning an attempt: four 429s in a row with
// MAX_ATTEMPTS=2 still end in SUCCESS on River attempt 1.
func TestRateLimitSnoozesWithoutBurningAttempts(t *testing.T) {
	t.Parallel()
	fake := newFake(func(_ context.Context, ch model.Channel, call int) (channels.Result, error) {
		if call <= 4 {
			return channels.Result{}, &channels.Error{Kind: channels.RateLimited, HTTPStatus: 429,
				RetryAfter: 5 * time.Millisecond, Message: "the channel asked us to slow down"}
		}
		return resultFor(ch), nil
	})
	h := newHarness(t, engine.Config{Workers: 2, MaxAttempts: 2}, fake, nil)
	h.start("ev1", model.ChannelInstagram)
	h.waitOverall("ev1", "COMPLETED")
	got := h.attempts("ev1", model.ChannelInstagram)
	if fmt.Sprint(got) != "[system/snoozed/429 system/snoozed/429 system/snoozed/429 system/snoozed/429 system/success/-]" {
		t.Fatalf("attempts = %v", got)
	}
	testkit.Eventually(t, 20*time.Second, "job completed", func() bool { return h.count(`SELECT count(*) FROM river_job WHERE state = 'completed'`) == 1 })
	var attempt, snoozes int
	if err := h.store.Pool.QueryRow(context.Background(), `SELECT attempt, (metadata->>'snoozes')::int FROM river_job`).Scan(&attempt, &snoozes); err != nil {
		t.Fatal(err)
	}
	if attempt != 1 || snoozes != 4 {
		t.Fatalf("river attempt = %d, snoozes = %d", attempt, snoozes)
	}
}

// The rate-limit budget (MaxSnoozes) counts the channel's 429s only. River's own count of
// snoozes also grows with every breaker pause; a job paused by the breaker for a long time must
// still wait out a 429 rather than burn an attempt, and the budget still ends a 429 loop.
func TestRateLimitBudgetIgnoresBreakerPauses(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	ins := newHarness(t, engine.Config{MaxAttempts: 1}, nil, store) // insert-only (no workers): the jobs wait
	ins.start("ev1", model.ChannelInstagram)
	ins.start("ev2", model.ChannelNaver)
	// As if the breaker had paused both jobs a thousand times.
	if _, err := store.Pool.Exec(context.Background(),
		`UPDATE river_job SET metadata = jsonb_set(metadata, '{snoozes}', '1000')`); err != nil {
		t.Fatal(err)
	}
	fake := newFake(func(_ context.Context, ch model.Channel, call int) (channels.Result, error) {
		if ch == model.ChannelNaver || call <= 2 {
			return channels.Result{}, &channels.Error{Kind: channels.RateLimited, HTTPStatus: 429,
				RetryAfter: 5 * time.Millisecond, Message: "the channel asked us to slow down"}
		}
		return resultFor(ch), nil
	})
	h := newHarness(t, engine.Config{Workers: 2, MaxAttempts: 1, MaxSnoozes: 2}, fake, store)
	h.waitOverall("ev1", "COMPLETED")
	if got := fmt.Sprint(h.attempts("ev1", model.ChannelInstagram)); got != "[system/snoozed/429 system/snoozed/429 system/success/-]" {
		t.Fatalf("ev1 attempts = %s", got)
	}
	h.waitOverall("ev2", "FAILED")
	if got := fmt.Sprint(h.attempts("ev2", model.ChannelNaver)); got != "[system/snoozed/429 system/snoozed/429 system/failed/429]" {
		t.Fatalf("ev2 attempts = %s", got)
	}
}

// River's job timeout ends a hung channel call; it counts as a temporary failure.
func TestJobTimeoutIsATemporaryFailure(t *testing.T) {
	t.Parallel()
	fake := newFake(func(ctx context.Context, ch model.Channel, _ int) (channels.Result, error) {
		<-ctx.Done()
		return channels.Result{}, &channels.Error{Kind: channels.Temporary, Message: "no answer", Detail: ctx.Err().Error()}
	})
	h := newHarness(t, engine.Config{Workers: 1, MaxAttempts: 1, JobTimeout: 100 * time.Millisecond}, fake, nil)
	h.start("ev1", model.ChannelGiniTV)
	h.waitOverall("ev1", "FAILED")
	if c := h.channel("ev1", model.ChannelGiniTV); str(c.ErrorMessage) != "failed after 1 attempt: the channel did not finish within 100ms" {
		t.Fatalf("error = %q", str(c.ErrorMessage))
	}
}

// RELIABILITY D2/D3 through the engine: one winner, one new job.
func TestRetryChannelConcurrentAndConflicts(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{}, nil, nil) // insert-only
	d := h.start("ev1", model.ChannelKakao, model.ChannelNaver)

	_, err := h.eng.RetryChannel(context.Background(), "ev1", model.ChannelKakao, "staff@x")
	if model.ErrorCode(err) != model.ECONFLICT || model.ErrorMessage(err) != "KAKAO is PENDING; only FAILED channels can be retried" {
		t.Fatalf("retry of PENDING: %v", err)
	}
	if n := h.count(`SELECT count(*) FROM river_job`); n != 2 {
		t.Fatalf("jobs after rejected retry = %d", n)
	}
	if _, err := h.store.FinishChannel(context.Background(), db.ChannelFinish{
		ChannelStatusID: d.Channels[1].ID, DistributionStatusID: d.ID, Generation: 1,
		Status: model.StatusFailed, Outcome: model.OutcomeFailed, ErrorMessage: "boom",
	}); err != nil {
		t.Fatal(err)
	}
	var (
		wg        sync.WaitGroup
		barrier   = make(chan struct{})
		ok, confl atomic.Int32
	)
	for range 20 {
		wg.Go(func() {
			<-barrier
			_, err := h.eng.RetryChannel(context.Background(), "ev1", model.ChannelKakao, "staff@x")
			switch model.ErrorCode(err) {
			case "":
				ok.Add(1)
			case model.ECONFLICT:
				confl.Add(1)
			default:
				t.Errorf("retry: %v", err)
			}
		})
	}
	close(barrier)
	wg.Wait()
	if ok.Load() != 1 || confl.Load() != 19 {
		t.Fatalf("ok=%d conflicts=%d", ok.Load(), confl.Load())
	}
	if n := h.count(`SELECT count(*) FROM river_job WHERE args->>'channel' = 'KAKAO'`); n != 2 {
		t.Fatalf("KAKAO jobs = %d, want 2", n)
	}
	var trigger string
	h.store.Pool.QueryRow(context.Background(), `SELECT args->>'trigger' FROM river_job WHERE (args->>'generation')::int = 2`).Scan(&trigger)
	if trigger != "retry:staff@x" {
		t.Fatalf("trigger = %q", trigger)
	}
}

// The unique key is (distribution, event, channel, generation): the same generation twice is
// deduplicated, a new generation is a new job.
func TestPublishJobUniqueness(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{}, nil, nil)
	d := h.start("ev1", model.ChannelKakao)
	args := engine.PublishArgs{DistributionStatusID: d.ID, EventID: "ev1", Channel: model.ChannelKakao, Generation: 1, Trigger: "other"}
	res, err := h.eng.River().Insert(context.Background(), args, nil)
	if err != nil || !res.UniqueSkippedAsDuplicate {
		t.Fatalf("same generation: skipped=%v err=%v", res != nil && res.UniqueSkippedAsDuplicate, err)
	}
	args.Generation = 2
	if res, err = h.eng.River().Insert(context.Background(), args, nil); err != nil || res.UniqueSkippedAsDuplicate {
		t.Fatalf("new generation: skipped=%v err=%v", res != nil && res.UniqueSkippedAsDuplicate, err)
	}
}

func TestRetryFailedAndMatching(t *testing.T) {
	t.Parallel()
	h := newHarness(t, engine.Config{BulkRetryBatch: 2, BulkRetryLimit: 3}, nil, nil)
	fail := func(d model.Distribution) {
		for _, c := range d.Channels {
			if _, err := h.store.FinishChannel(context.Background(), db.ChannelFinish{
				ChannelStatusID: c.ID, DistributionStatusID: d.ID, Generation: 1,
				Status: model.StatusFailed, Outcome: model.OutcomeFailed, ErrorMessage: "token expired",
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		fail(h.start(fmt.Sprintf("ev%d", i), model.ChannelKakao, model.ChannelNaver))
	}
	chans, err := h.eng.RetryFailed(context.Background(), "ev0", "staff@x")
	if err != nil || fmt.Sprint(chans) != "[NAVER KAKAO]" {
		t.Fatalf("retry failed = %v, %v", chans, err)
	}
	if _, err := h.eng.RetryFailed(context.Background(), "ev0", "staff@x"); model.ErrorCode(err) != model.ECONFLICT {
		t.Fatalf("second retry failed: %v", err)
	}
	f := engine.RetryFilter{Channel: model.ChannelKakao}
	if n, err := h.eng.RetryMatching(context.Background(), f, "staff@x", true); err != nil || n != 4 {
		t.Fatalf("preview = %d, %v", n, err)
	}
	if n := h.count(`SELECT count(*) FROM channel_status WHERE status = 'FAILED'`); n != 8 {
		t.Fatalf("preview wrote something: %d FAILED", n)
	}
	if n, err := h.eng.RetryMatching(context.Background(), f, "staff@x", false); err != nil || n != 3 {
		t.Fatalf("bulk retry = %d, %v (limit 3)", n, err)
	}
	if n, err := h.eng.RetryMatching(context.Background(), f, "staff@x", false); err != nil || n != 1 {
		t.Fatalf("second bulk retry = %d, %v", n, err)
	}
	if n := h.count(`SELECT count(*) FROM river_job WHERE args->>'trigger' = 'bulk-retry:staff@x'`); n != 4 {
		t.Fatalf("bulk jobs = %d", n)
	}
	if _, err := h.eng.RetryMatching(context.Background(), engine.RetryFilter{Channel: "FAX"}, "s", true); model.ErrorCode(err) != model.EINVALID {
		t.Fatalf("unknown channel filter: %v", err)
	}
}

// RELIABILITY W1: a channel left IN_PROGRESS by a dead worker whose job River gave up on is
// re-driven once and finishes; lost again, it is FAILED "worker lost".
func TestReconcilerRescuesStuckChannels(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	web := newHarness(t, engine.Config{}, nil, store) // insert-only: nothing runs the jobs yet
	ctx := context.Background()
	d := web.start("ev1", model.ChannelGiniTV, model.ChannelKakao)

	// A worker claimed GINITV and died; River discarded the job (e.g. MAX_ATTEMPTS reached by
	// its rescuer). KAKAO's job vanished before it ever ran.
	if _, ok, err := store.ClaimChannel(ctx, d.ID, model.ChannelGiniTV, 1, "system"); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	kill := func() {
		t.Helper()
		if _, err := store.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE finalized_at IS NULL`); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Pool.Exec(ctx, `UPDATE channel_status SET update_timestamp = now() - interval '5 minutes'
			WHERE status IN ('PENDING', 'IN_PROGRESS')`); err != nil {
			t.Fatal(err)
		}
	}
	kill()
	rep, err := web.eng.ReconcileOnce(ctx)
	if err != nil || rep.Redriven != 2 || rep.Failed != 0 {
		t.Fatalf("first pass = %+v, %v", rep, err)
	}
	if rep, _ := web.eng.ReconcileOnce(ctx); rep.Redriven+rep.Failed != 0 {
		t.Fatalf("a second pass found work: %+v", rep)
	}
	g := web.channel("ev1", model.ChannelGiniTV)
	if g.Status != model.StatusPending || g.Generation != 2 {
		t.Fatalf("GINITV after rescue = %s gen %d", g.Status, g.Generation)
	}

	// KAKAO's rescue job is lost too → FAILED "worker lost". GINITV's runs on a worker.
	if _, err := store.Pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now()
		WHERE args->>'channel' = 'KAKAO' AND finalized_at IS NULL`); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pool.Exec(ctx, `UPDATE channel_status SET update_timestamp = now() - interval '5 minutes' WHERE channel = 'KAKAO'`); err != nil {
		t.Fatal(err)
	}
	if rep, err := web.eng.ReconcileOnce(ctx); err != nil || rep.Failed != 1 || rep.Redriven != 0 {
		t.Fatalf("second pass = %+v, %v", rep, err)
	}
	k := web.channel("ev1", model.ChannelKakao)
	if k.Status != model.StatusFailed || k.CompletedAt == nil || len(str(k.ErrorMessage)) < len("worker lost") || str(k.ErrorMessage)[:11] != "worker lost" {
		t.Fatalf("KAKAO = %s %q", k.Status, str(k.ErrorMessage))
	}

	fake := newFake(nil)
	newHarness(t, engine.Config{Workers: 2}, fake, store)
	web.waitOverall("ev1", "PARTIAL_SUCCESS")
	if got := web.attempts("ev1", model.ChannelGiniTV); fmt.Sprint(got) != "[system/lost/- rescue/success/-]" {
		t.Fatalf("GINITV attempts = %v", got)
	}
	if got := web.attempts("ev1", model.ChannelKakao); fmt.Sprint(got) != "[rescue/lost/- rescue/lost/-]" {
		t.Fatalf("KAKAO attempts = %v", got)
	}
	// The re-drive runs under generation 2 but publishes with the key of the lost attempt
	// (generation 1): if that attempt had already posted, the channel returns the same post.
	if keys := fake.keysOf(model.ChannelGiniTV); len(keys) != 1 || keys[0] != fmt.Sprintf("%d:GINITV:r0", d.ID) {
		t.Fatalf("GINITV keys = %v, want the lost attempt's key", keys)
	}
}

// RELIABILITY W2: a long channel call is cancelled after the shutdown grace and re-queued without
// burning an attempt; the next process finishes it with the same idempotency key.
func TestStopRequeuesRunningJobs(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	entered := make(chan struct{}, 1)
	slow := newFake(func(ctx context.Context, _ model.Channel, _ int) (channels.Result, error) {
		entered <- struct{}{}
		<-ctx.Done()
		return channels.Result{}, &channels.Error{Kind: channels.Temporary, Message: "cancelled", Detail: ctx.Err().Error()}
	})
	h := newHarness(t, engine.Config{Workers: 1, MaxAttempts: 1, ShutdownGrace: 50 * time.Millisecond}, slow, store)
	d := h.start("ev1", model.ChannelNaver)
	select {
	case <-entered:
	case <-time.After(20 * time.Second):
		t.Fatal("the job never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := h.eng.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	var state string
	var attempt int
	if err := store.Pool.QueryRow(ctx, `SELECT state::text, attempt FROM river_job`).Scan(&state, &attempt); err != nil {
		t.Fatal(err)
	}
	if (state != "available" && state != "scheduled") || attempt != 0 {
		t.Fatalf("job after stop: %s attempt %d", state, attempt)
	}
	if c := h.channel("ev1", model.ChannelNaver); c.Status != model.StatusInProgress {
		t.Fatalf("channel after stop = %s", c.Status)
	}

	fast := newFake(nil)
	next := newHarness(t, engine.Config{Workers: 1, MaxAttempts: 1}, fast, store)
	next.waitOverall("ev1", "COMPLETED")
	if got := next.attempts("ev1", model.ChannelNaver); fmt.Sprint(got) != "[system/retry/- system/success/-]" {
		t.Fatalf("attempts = %v", got)
	}
	if keys := fast.keysOf(model.ChannelNaver); len(keys) != 1 || keys[0] != fmt.Sprintf("%d:NAVER:r0", d.ID) {
		t.Fatalf("keys = %v", keys)
	}
}

func TestRetryPolicy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		rand    float64
		attempt int
		want    time.Duration
	}{
		{0.5, 1, 2 * time.Second},
		{0.5, 2, 4 * time.Second},
		{0.5, 3, 8 * time.Second},
		{0.0, 3, 6400 * time.Millisecond},   // -20 %
		{1.0, 3, 9600 * time.Millisecond},   // +20 %
		{0.5, 0, 2 * time.Second},           // clamped to attempt 1
		{0.5, 9, 5 * time.Minute},           // 512s capped
		{1.0, 8, 5 * time.Minute},           // 256s·1.2 capped
		{0.0, 8, 204800 * time.Millisecond}, // 256s·0.8 under the cap
		{0.5, 5000, 5 * time.Minute},        // no overflow
	} {
		p := &engine.RetryPolicy{Base: 2 * time.Second, Max: 5 * time.Minute,
			Now: func() time.Time { return now }, Rand: func() float64 { return tc.rand }}
		if got := p.Delay(tc.attempt); got != tc.want {
			t.Errorf("Delay(%d) with rand %.1f = %s, want %s", tc.attempt, tc.rand, got, tc.want)
		}
		if got := p.NextAt(now, tc.attempt); !got.Equal(now.Add(tc.want)) {
			t.Errorf("NextAt = %s", got)
		}
	}
	p := &engine.RetryPolicy{Base: time.Second, Max: time.Minute, Now: func() time.Time { return now }, Rand: func() float64 { return 0.5 }}
	if got := p.NextRetry(&rivertype.JobRow{Attempt: 3}); !got.Equal(now.Add(4 * time.Second)) {
		t.Errorf("NextRetry(attempt 3) = %s", got)
	}
}

// RELIABILITY W3: a job whose generation was superseded (retry or rescue after it was queued)
// runs, writes nothing and never calls the channel.
func TestStaleJobWritesNothing(t *testing.T) {
	t.Parallel()
	store := dbtest.New(t)
	web := newHarness(t, engine.Config{}, nil, store)
	web.start("ev1", model.ChannelKakao)
	if _, err := store.Pool.Exec(context.Background(), `UPDATE channel_status SET generation = 2`); err != nil {
		t.Fatal(err)
	}
	fake := newFake(nil)
	w := newHarness(t, engine.Config{Workers: 1}, fake, store)
	testkit.Eventually(t, 20*time.Second, "stale job done", func() bool { return w.count(`SELECT count(*) FROM river_job WHERE state = 'completed'`) == 1 })
	c := w.channel("ev1", model.ChannelKakao)
	if c.Status != model.StatusPending || c.Progress != 0 || fake.count(model.ChannelKakao) != 0 || len(w.attempts("ev1", model.ChannelKakao)) != 0 {
		t.Fatalf("stale job touched the channel: %+v, %d calls", c, fake.count(model.ChannelKakao))
	}
	if got := w.counter("distribution_channel_jobs_total", map[string]string{"outcome": "stale"}); got != 1 {
		t.Fatalf("stale metric = %v", got)
	}
}
