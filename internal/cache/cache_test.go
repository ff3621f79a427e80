package cache_test

// One file on purpose: the cache's contract (keys, TTLs, read-through, dirty marking, behaviour
// while Redis is stopped or hung) is specified here against private Redis servers, in one place.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// countingSource counts the reads that reached Postgres.
type countingSource struct {
	db *db.DB
	n  atomic.Int32
}

func (s *countingSource) FindDistribution(ctx context.Context, eventID string) (model.Distribution, error) {
	s.n.Add(1)
	return s.db.FindDistribution(ctx, eventID)
}

type env struct {
	redis  *dbtest.Redis
	client *redis.Client
	raw    *redis.Client // no hooks: inspects the server as it is
	cache  *cache.Cache
	db     *db.DB
	src    *countingSource
}

func newEnv(t *testing.T) *env {
	t.Helper()
	r := dbtest.StartRedis(t)
	client, err := cache.NewClient(r.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	raw := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	t.Cleanup(func() { raw.Close() })
	d := dbtest.New(t)
	return &env{redis: r, client: client, raw: raw, cache: cache.New(client, quietLogger()), db: d, src: &countingSource{db: d}}
}

// seed creates an event with a distribution over chs (all IN_PROGRESS unless statuses say otherwise)
// and returns it as Postgres has it.
func (e *env) seed(t *testing.T, eventID string, overall model.OverallStatus, chs map[model.Channel]model.ChannelStatus) model.Distribution {
	t.Helper()
	ctx := context.Background()
	if _, err := e.db.CreateEvent(ctx, model.Event{ID: eventID, Title: eventID}, "test"); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := e.db.Pool.QueryRow(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at)
		VALUES ($1, $2, now()) RETURNING id`, eventID, string(overall)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	for ch, st := range chs {
		if _, err := e.db.Pool.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, event_id, channel, status, progress, retries)
			VALUES ($1, $2, $3, $4, 10, 0)`, id, eventID, string(ch), string(st)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := e.db.FindDistribution(ctx, eventID)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// normalize makes times comparable with reflect.DeepEqual (same instant, same location).
func normalize(d model.Distribution) model.Distribution {
	utc := func(t time.Time) time.Time { return t.UTC() }
	ptr := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		u := t.UTC()
		return &u
	}
	d.StartedAt, d.CreatedAt, d.UpdatedAt, d.CompletedAt = utc(d.StartedAt), utc(d.CreatedAt), utc(d.UpdatedAt), ptr(d.CompletedAt)
	chs := make([]model.ChannelState, len(d.Channels))
	for i, c := range d.Channels {
		c.UpdateTimestamp, c.UpdatedAt = utc(c.UpdateTimestamp), utc(c.UpdatedAt)
		c.LastRetryAt, c.CompletedAt = ptr(c.LastRetryAt), ptr(c.CompletedAt)
		chs[i] = c
	}
	d.Channels = chs
	return d
}

func sameDistribution(t *testing.T, got, want model.Distribution) {
	t.Helper()
	if g, w := normalize(got), normalize(want); !reflect.DeepEqual(g, w) {
		t.Fatalf("distribution differs:\n got %+v\nwant %+v", g, w)
	}
}

func ptr[T any](v T) *T { return &v }

// fullDistribution has every field set, including sub-millisecond times, and some NULLs.
func fullDistribution() model.Distribution {
	at := time.Date(2030, 5, 6, 7, 8, 9, 123456000, time.UTC)
	return model.Distribution{
		ID: 42, EventID: "ev-full", OverallStatus: model.OverallPartialSuccess,
		StartedAt: at, CompletedAt: ptr(at.Add(time.Minute)), CreatedAt: at, UpdatedAt: at.Add(time.Minute + time.Microsecond),
		Version: 9,
		Channels: []model.ChannelState{
			{
				ID: 7, DistributionStatusID: 42, EventID: "ev-full", Channel: model.ChannelGiniTV, Status: model.StatusSuccess,
				Progress: 100, DistributionID: ptr("GTV-1"), EstimatedViews: ptr(0),
				ImpressionSchedule: ptr(`[{"start":"2030-05-06T09:00:00Z","end":"2030-05-06T10:00:00Z","slot":"prime","spots":3}]`),
				PostURL:            ptr("https://tv.example/1?a=b,c"), PostID: ptr("P:1"), MessageID: ptr("M-1"),
				ErrorMessage: ptr("was: timeout, then ok"), Retries: 2, LastRetryAt: ptr(at.Add(time.Second)),
				CompletedAt: ptr(at.Add(2 * time.Second)), UpdateTimestamp: at.Add(3 * time.Second), UpdatedAt: at.Add(3*time.Second + 999*time.Microsecond),
				Generation: 3, Version: 12,
			},
			{
				ID: 8, DistributionStatusID: 42, EventID: "ev-full", Channel: model.ChannelKakao, Status: model.StatusFailed,
				Progress: 0, ErrorMessage: ptr("카카오 토큰 만료"), UpdateTimestamp: at, UpdatedAt: at,
			},
		},
	}
}

// failingSource fails the test when the read-through reaches it.
type failingSource struct{ t *testing.T }

func (s failingSource) FindDistribution(context.Context, string) (model.Distribution, error) {
	s.t.Helper()
	s.t.Fatal("read reached the source; expected a cache hit")
	return model.Distribution{}, nil
}

func TestPutDistributionRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	want := fullDistribution()
	if err := e.cache.PutDistribution(ctx, want); err != nil {
		t.Fatal(err)
	}
	got, err := e.cache.Distribution(ctx, "ev-full", failingSource{t})
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, want)
	if got.UpdatedAt.UnixMilli() != want.UpdatedAt.UnixMilli() || got.Channels[0].UpdatedAt.UnixMilli() != want.Channels[0].UpdatedAt.UnixMilli() {
		t.Errorf("updated_at unix ms changed through the cache")
	}

	// Keys carry their TTLs.
	for key, max := range map[string]time.Duration{
		cache.EventKey("ev-full"):                        cache.EventTTL,
		cache.ChannelKey("ev-full", model.ChannelGiniTV): cache.ChannelTTL,
		cache.ChannelKey("ev-full", model.ChannelKakao):  cache.ChannelTTL,
	} {
		ttl, err := e.raw.TTL(ctx, key).Result()
		if err != nil || ttl <= 0 || ttl > max {
			t.Errorf("TTL of %s = %v (%v), want in (0, %v]", key, ttl, err, max)
		}
	}
	if h, _ := e.raw.HGetAll(ctx, cache.EventKey("ev-full")).Result(); h["channels"] != "GINITV,KAKAO" || h["overall_status"] != "PARTIAL_SUCCESS" {
		t.Errorf("event hash = %v", h)
	}

	// A later channel write (a newer version) replaces every field, clearing the ones that became NULL.
	ch := want.Channels[0]
	ch.Status, ch.Progress, ch.ErrorMessage, ch.CompletedAt, ch.Generation = model.StatusPending, 0, nil, nil, 4
	ch.Version++
	if err := e.cache.PutChannel(ctx, ch); err != nil {
		t.Fatal(err)
	}
	ov := want
	ov.Channels = nil // an overall-only write keeps the channel list
	ov.OverallStatus, ov.CompletedAt = model.OverallInProgress, nil
	ov.Version++
	if err := e.cache.PutOverall(ctx, ov); err != nil {
		t.Fatal(err)
	}
	got, err = e.cache.Distribution(ctx, "ev-full", failingSource{t})
	if err != nil {
		t.Fatal(err)
	}
	want.OverallStatus, want.CompletedAt, want.Channels[0], want.Version = model.OverallInProgress, nil, ch, ov.Version
	sameDistribution(t, got, want)
}

func TestDistributionWithoutChannelsRoundTrips(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	d := fullDistribution()
	d.OverallStatus, d.CompletedAt, d.Channels = model.OverallInProgress, nil, []model.ChannelState{}
	src := staleSource{d: d}
	if _, err := e.cache.Distribution(ctx, d.EventID, src); err != nil { // refill
		t.Fatal(err)
	}
	got, err := e.cache.Distribution(ctx, d.EventID, failingSource{t})
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, d)
}

func TestReadThroughRefills(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	want := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{
		model.ChannelKakao: model.StatusInProgress, model.ChannelNaver: model.StatusPending, model.ChannelRingoBiz: model.StatusSuccess,
	})

	got, err := e.cache.Distribution(ctx, "ev-1", e.src)
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, want)
	if n := e.src.n.Load(); n != 1 {
		t.Fatalf("first read: %d source reads, want 1", n)
	}
	for _, key := range []string{cache.EventKey("ev-1"), cache.ChannelKey("ev-1", model.ChannelKakao), cache.ChannelKey("ev-1", model.ChannelNaver), cache.ChannelKey("ev-1", model.ChannelRingoBiz)} {
		if ttl := e.raw.TTL(ctx, key).Val(); ttl <= 0 {
			t.Errorf("refilled %s has TTL %v", key, ttl)
		}
	}
	if n := e.raw.Exists(ctx, cache.ChannelKey("ev-1", model.ChannelInstagram)).Val(); n != 0 {
		t.Error("a key was written for a channel the distribution does not have")
	}

	got, err = e.cache.Distribution(ctx, "ev-1", e.src)
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, want)
	if n := e.src.n.Load(); n != 1 {
		t.Fatalf("second read: %d source reads, want 1 (a cache hit)", n)
	}

	// One channel key gone (its TTL is shorter than the event key's): read Postgres, refill it.
	e.raw.Del(ctx, cache.ChannelKey("ev-1", model.ChannelNaver))
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil {
		t.Fatal(err)
	}
	if n := e.src.n.Load(); n != 2 {
		t.Fatalf("after delete: %d source reads, want 2", n)
	}
	if e.raw.Exists(ctx, cache.ChannelKey("ev-1", model.ChannelNaver)).Val() != 1 {
		t.Fatal("deleted key not refilled")
	}
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil || e.src.n.Load() != 2 {
		t.Fatalf("after refill: %d source reads (%v), want 2", e.src.n.Load(), err)
	}

	// The event key gone: same.
	e.raw.Del(ctx, cache.EventKey("ev-1"))
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil || e.src.n.Load() != 3 {
		t.Fatalf("after event key delete: %d source reads (%v), want 3", e.src.n.Load(), err)
	}
	if e.raw.Exists(ctx, cache.EventKey("ev-1")).Val() != 1 {
		t.Fatal("event key not refilled")
	}
}

// A refill carries what Postgres said a moment ago; it must not overwrite a newer state a writer
// put in the meantime.
func TestRefillDoesNotOverwriteNewerWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	old := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusInProgress})

	// A writer commits progress 70 and puts the channel; the event key is still absent.
	newer := old.Channels[0]
	newer.Progress = 70
	if err := e.cache.PutChannel(ctx, newer); err != nil {
		t.Fatal(err)
	}
	// A reader that read Postgres before that commit refills with progress 10.
	stale := staleSource{d: old}
	got, err := e.cache.Distribution(ctx, "ev-1", stale)
	if err != nil || got.Channels[0].Progress != 10 {
		t.Fatalf("reader got %+v, %v", got, err)
	}
	if p := e.raw.HGet(ctx, cache.ChannelKey("ev-1", model.ChannelKakao), "progress").Val(); p != "70" {
		t.Fatalf("refill overwrote the newer write: progress %q, want 70", p)
	}
	got, err = e.cache.Distribution(ctx, "ev-1", failingSource{t})
	if err != nil || got.Channels[0].Progress != 70 {
		t.Fatalf("next read %+v, %v; want progress 70 from the cache", got, err)
	}
}

type staleSource struct{ d model.Distribution }

func (s staleSource) FindDistribution(context.Context, string) (model.Distribution, error) {
	return s.d, nil
}

// Writes of concurrent channel jobs can land out of order (an older overall status after a newer
// one). A cached overall status that contradicts the cached channels is healed from Postgres.
func TestInconsistentCacheHealsFromSource(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	truth := e.seed(t, "ev-1", model.OverallCompleted, map[model.Channel]model.ChannelStatus{
		model.ChannelKakao: model.StatusSuccess, model.ChannelNaver: model.StatusSuccess,
	})
	stale := truth
	stale.OverallStatus = model.OverallInProgress
	if err := e.cache.PutDistribution(ctx, stale); err != nil {
		t.Fatal(err)
	}
	got, err := e.cache.Distribution(ctx, "ev-1", e.src)
	if err != nil || got.OverallStatus != model.OverallCompleted || e.src.n.Load() != 1 {
		t.Fatalf("got %s after %d source reads (%v), want COMPLETED from the source", got.OverallStatus, e.src.n.Load(), err)
	}
	got, err = e.cache.Distribution(ctx, "ev-1", failingSource{t})
	if err != nil || got.OverallStatus != model.OverallCompleted {
		t.Fatalf("healed read: %s, %v", got.OverallStatus, err)
	}
}

func TestUnreadableEntryIsOverwritten(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	truth := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusPending})
	if err := e.cache.PutDistribution(ctx, truth); err != nil {
		t.Fatal(err)
	}
	for _, corrupt := range []func(){
		func() { e.raw.HSet(ctx, cache.ChannelKey("ev-1", model.ChannelKakao), "status", "BOGUS") },
		func() { e.raw.HSet(ctx, cache.ChannelKey("ev-1", model.ChannelKakao), "updated_at", "yesterday") },
		func() { e.raw.HSet(ctx, cache.EventKey("ev-1"), "channels", "KAKAO,TWITTER") },
		func() { e.raw.HDel(ctx, cache.EventKey("ev-1"), "id") },
	} {
		corrupt()
		before := e.src.n.Load()
		got, err := e.cache.Distribution(ctx, "ev-1", e.src)
		if err != nil || e.src.n.Load() != before+1 {
			t.Fatalf("corrupt entry: %v, %d source reads", err, e.src.n.Load()-before)
		}
		sameDistribution(t, got, truth)
		got, err = e.cache.Distribution(ctx, "ev-1", failingSource{t})
		if err != nil {
			t.Fatal(err)
		}
		sameDistribution(t, got, truth)
	}
	// A key of the wrong type is an error reply, not an outage: served from the source.
	e.raw.Del(ctx, cache.EventKey("ev-1"))
	e.raw.Set(ctx, cache.EventKey("ev-1"), "x", 0)
	if got, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil || got.EventID != "ev-1" {
		t.Fatalf("WRONGTYPE key: %+v, %v", got, err)
	}
	got, err := e.cache.Distribution(ctx, "ev-1", failingSource{t}) // replaced by a hash
	if err != nil {
		t.Fatal(err)
	}
	sameDistribution(t, got, truth)
}

func TestErrorsPassThroughAndTouchNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.db.CreateEvent(ctx, model.Event{ID: "ev-1", Title: "no distribution"}, "test"); err != nil {
		t.Fatal(err)
	}
	for id, code := range map[string]string{"ev-1": model.ENOTFOUND, "ev-unknown": model.ENOTFOUND, "../x": model.EINVALID, "*": model.EINVALID, strings.Repeat("a", 10240): model.EINVALID} {
		_, err := e.cache.Distribution(ctx, id, e.src)
		if got := model.ErrorCode(err); got != code {
			t.Errorf("%.20q: code %q (%v), want %q", id, got, err, code)
		}
	}
	if err := e.cache.PutChannel(ctx, model.ChannelState{EventID: "a:b", Channel: model.ChannelKakao}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("write with a bad event id: %v", err)
	}
	if n := e.raw.DBSize(ctx).Val(); n != 0 {
		keys := e.raw.Keys(ctx, "*").Val()
		t.Fatalf("%d keys written: %v", n, keys)
	}
}

func TestRedisDownServesFromPostgres(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	truth := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusPending})
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil { // fills the cache
		t.Fatal(err)
	}

	e.redis.Stop()
	for range 5 {
		got, err := e.cache.Distribution(ctx, "ev-1", e.src)
		if err != nil {
			t.Fatalf("read with Redis down: %v", err)
		}
		sameDistribution(t, got, truth)
	}
	if err := e.cache.PutChannel(ctx, truth.Channels[0]); err == nil {
		t.Error("write with Redis down reported success")
	}
	if err := e.cache.Ping(ctx); err == nil {
		t.Error("ping with Redis down reported success")
	}
	if ok, err := e.cache.NotificationsState(); ok || err == nil || errors.Is(err, cache.ErrNotificationsForbidden) {
		t.Errorf("notifications with Redis down: %v, %v", ok, err)
	}
	if _, err := e.cache.Distribution(ctx, "nope", e.src); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("not found with Redis down: %v", err)
	}

	// Back up (empty, as after a crash): a ping closes the circuit and reads refill again.
	e.redis.Start()
	if err := e.cache.Ping(ctx); err != nil {
		t.Fatalf("ping after restart: %v", err)
	}
	before := e.src.n.Load()
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil {
		t.Fatal(err)
	}
	if e.src.n.Load() != before+1 || e.raw.Exists(ctx, cache.EventKey("ev-1")).Val() != 1 {
		t.Fatal("not refilled after restart")
	}
	if _, err := e.cache.Distribution(ctx, "ev-1", failingSource{t}); err != nil {
		t.Fatal(err)
	}
}

func TestRedisHungServesFromPostgres(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	truth := e.seed(t, "ev-1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelNaver: model.StatusPending})
	if _, err := e.cache.Distribution(ctx, "ev-1", e.src); err != nil {
		t.Fatal(err)
	}
	p := e.redis.Process()
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Skipf("cannot SIGSTOP redis: %v", err)
	}
	t.Cleanup(func() { p.Signal(syscall.SIGCONT) }) //nolint:errcheck
	for range 3 {
		got, err := e.cache.Distribution(ctx, "ev-1", e.src)
		if err != nil {
			t.Fatalf("read with Redis hung: %v", err)
		}
		sameDistribution(t, got, truth)
	}
}

func TestNotificationsReappliedAfterRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	flags := func() string {
		t.Helper()
		v, err := e.raw.ConfigGet(ctx, "notify-keyspace-events").Result()
		if err != nil {
			t.Fatal(err)
		}
		return v["notify-keyspace-events"]
	}
	hasAll := func(v string) bool {
		for _, f := range "Khgx" {
			if !strings.ContainsRune(v, f) {
				return false
			}
		}
		return true
	}
	if v := flags(); v != "" {
		t.Fatalf("fresh server has notify-keyspace-events %q", v)
	}
	if err := e.client.Ping(ctx).Err(); err != nil { // first connection applies the setting
		t.Fatal(err)
	}
	if v := flags(); !hasAll(v) {
		t.Fatalf("after first connection: %q, want Khgx", v)
	}
	if ok, err := e.cache.NotificationsState(); !ok || err != nil {
		t.Fatalf("NotificationsState = %v, %v", ok, err)
	}

	e.redis.Stop()
	e.redis.Start()
	if v := flags(); v != "" {
		t.Fatalf("restarted server kept %q", v)
	}
	if err := e.client.Ping(ctx).Err(); err != nil { // one command through the client
		t.Fatal(err)
	}
	if v := flags(); !hasAll(v) {
		t.Fatalf("after restart and one command: %q, want Khgx", v)
	}

	// Reset behind the client's back (pooled connections stay): the health check re-applies it.
	if err := e.raw.ConfigSet(ctx, "notify-keyspace-events", "E$").Err(); err != nil {
		t.Fatal(err)
	}
	if ok, err := e.cache.NotificationsState(); !ok || err != nil {
		t.Fatalf("NotificationsState after reset = %v, %v", ok, err)
	}
	if v := flags(); !hasAll(v) || !strings.Contains(v, "E") || !strings.Contains(v, "$") {
		t.Fatalf("after re-apply: %q, want Khgx added to E$", v)
	}
}

func TestNotificationsForbidden(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedis(t)
	ctx := context.Background()
	admin := redis.NewClient(&redis.Options{Network: "unix", Addr: r.Sock, MaxRetries: -1})
	t.Cleanup(func() { admin.Close() })
	if err := admin.Do(ctx, "ACL", "SETUSER", "app", "on", ">secret", "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	client, err := cache.NewClient("unix://app:secret@" + r.Sock + "?db=0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := cache.New(client, quietLogger())

	// The connection works despite the refused CONFIG...
	if err := c.PutChannel(ctx, model.ChannelState{EventID: "ev-1", Channel: model.ChannelKakao, Status: model.StatusPending}); err != nil {
		t.Fatalf("write as a user without CONFIG: %v", err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	// ...and health says why live updates may not flow.
	ok, err := c.CheckNotifications(ctx)
	if ok || !errors.Is(err, cache.ErrNotificationsForbidden) {
		t.Fatalf("NotificationsState = %v, %v; want false, ErrNotificationsForbidden", ok, err)
	}
}

func TestWritesNotifyOnTheDBIndexPatterns(t *testing.T) {
	t.Parallel()
	r := dbtest.StartRedis(t)
	ctx := context.Background()
	url := strings.Replace(r.URL, "db=0", "db=3", 1)
	client, err := cache.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	c := cache.New(client, quietLogger())
	patterns := c.KeyspacePatterns()
	if !slices.Equal(patterns, cache.KeyspacePatterns(3)) || !strings.HasPrefix(patterns[0], "__keyspace@3__:") {
		t.Fatalf("patterns = %v", patterns)
	}

	sub := client.PSubscribe(ctx, patterns...)
	t.Cleanup(func() { sub.Close() })
	for range patterns {
		if _, err := sub.ReceiveTimeout(ctx, 5*time.Second); err != nil { // subscription confirmations
			t.Fatal(err)
		}
	}
	d := fullDistribution()
	if err := c.PutChannel(ctx, d.Channels[1]); err != nil {
		t.Fatal(err)
	}
	if err := c.PutOverall(ctx, d); err != nil {
		t.Fatal(err)
	}
	if err := c.AnnounceEvent(ctx, "ev-new"); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"__keyspace@3__:distribution:channel:ev-full:KAKAO hset",
		"__keyspace@3__:distribution:channel:ev-full:KAKAO expire",
		"__keyspace@3__:event:ev-full:distribution hset",
		"__keyspace@3__:event:ev-full:distribution expire",
		"__keyspace@3__:event:ev-new:created hset",
		"__keyspace@3__:event:ev-new:created expire",
	}
	for _, w := range want {
		msg, err := sub.ReceiveTimeout(ctx, 5*time.Second)
		if err != nil {
			t.Fatalf("waiting for %q: %v", w, err)
		}
		m, ok := msg.(*redis.Message)
		if !ok {
			t.Fatalf("got %T %v, want a message", msg, msg)
		}
		if got := m.Channel + " " + m.Payload; got != w {
			t.Fatalf("notification %q, want %q", got, w)
		}
		wantID := "ev-full"
		if strings.Contains(w, "ev-new") {
			wantID = "ev-new"
		}
		if id, ok := cache.EventIDOf(m.Channel); !ok || id != wantID {
			t.Fatalf("EventIDOf(%q) = %q, %v", m.Channel, id, ok)
		}
	}
}
