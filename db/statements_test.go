package db_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// The statement budget of the engine's hot path (make bench: channel jobs/s and starts/s against
// raw River and raw INSERTs). Every statement is a round trip and server work per job, so a new
// one must be a choice: these tests fail when a claim, a finish or a start sends more.

// stmtCounter is a pgx tracer that records the statements (BEGIN and COMMIT included, each query
// of a batch counted) sent under a context marked by counting.
type stmtCounter struct {
	mu   sync.Mutex
	sent []string
}

type countKey struct{}

func counting(ctx context.Context) context.Context { return context.WithValue(ctx, countKey{}, true) }

func (c *stmtCounter) add(ctx context.Context, sql string) {
	if ctx.Value(countKey{}) == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sent = append(c.sent, sql)
}

func (c *stmtCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.add(ctx, d.SQL)
	return ctx
}

func (c *stmtCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *stmtCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	for _, q := range d.Batch.QueuedQueries {
		c.add(ctx, q.SQL)
	}
	return ctx
}

func (c *stmtCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *stmtCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// take returns the number of statements counted since the last take.
func (c *stmtCounter) take() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	sent := c.sent
	c.sent = nil
	return len(sent), sent
}

func countedStore(t *testing.T) (*db.DB, *stmtCounter) {
	t.Helper()
	c := &stmtCounter{}
	d, err := db.OpenWithDirect(context.Background(), dbtest.NewURL(t), "", nil, c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return d, c
}

func TestStatementsPerChannelJob(t *testing.T) {
	t.Parallel()
	d, c := countedStore(t)
	ctx := counting(context.Background())
	dist := engStart(t, d, "ev1", model.ChannelGiniTV, model.ChannelKakao)
	c.take()
	budget := func(what string, want int) {
		t.Helper()
		if n, sent := c.take(); n != want {
			t.Errorf("%s: %d statements, budget %d:\n%v", what, n, want, sent)
		}
	}

	// A job: the claim (one statement), no progress write of its own when it ends within the
	// coalescing window (the finish carries its progress), and a terminal finish: BEGIN, parent
	// lock, channel update + attempt close + rollup read (those two in one round trip), COMMIT
	// (+ the overall UPDATE when the rollup changes it).
	gini, ok, err := d.ClaimChannel(ctx, dist.ID, model.ChannelGiniTV, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v", ok, err)
	}
	budget("claim", 1)
	f := engFinish(gini.State, model.StatusSuccess, gini.AttemptID)
	f.Progress = 80
	if res, err := d.FinishChannel(ctx, f); err != nil || res.Stale || res.Distribution.OverallStatus != model.OverallInProgress {
		t.Fatalf("finish: %+v %v", res, err)
	}
	budget("terminal finish, overall unchanged", 4)

	kakao, ok, err := d.ClaimChannel(ctx, dist.ID, model.ChannelKakao, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v", ok, err)
	}
	budget("claim", 1)
	// A retried attempt (non-terminal): no parent lock, no rollup; its latest progress goes
	// with it.
	f = engFinish(kakao.State, model.StatusInProgress, kakao.AttemptID)
	f.Progress = 40
	res, err := d.FinishChannel(ctx, f)
	if err != nil || res.Stale || res.Channel.Progress != 40 || res.Distribution.ID != 0 {
		t.Fatalf("retry finish: %+v %v", res, err)
	}
	budget("non-terminal finish", 3)

	kakao, ok, err = d.ClaimChannel(ctx, dist.ID, model.ChannelKakao, 1, "auto-retry")
	if err != nil || !ok || kakao.Attempt != 2 || kakao.State.Progress != 40 {
		t.Fatalf("second claim: %+v ok=%v err=%v", kakao, ok, err)
	}
	budget("claim", 1)
	f = engFinish(kakao.State, model.StatusFailed, kakao.AttemptID)
	f.Progress = 30 // lower than stored: never lowers it
	res, err = d.FinishChannel(ctx, f)
	if err != nil || res.Stale || res.Channel.Progress != 40 || res.Distribution.OverallStatus != model.OverallPartialSuccess ||
		res.Previous != model.OverallInProgress || len(res.Distribution.Channels) != 2 {
		t.Fatalf("last finish: %+v %v", res, err)
	}
	budget("terminal finish, overall changed", 5)

	// A stale job: one statement, nothing written.
	if _, ok, err := d.ClaimChannel(ctx, dist.ID, model.ChannelKakao, 1, "system"); err != nil || ok {
		t.Fatalf("stale claim: ok=%v err=%v", ok, err)
	}
	budget("stale claim", 1)
	if got := engCount(t, d, `SELECT count(*) FROM channel_attempts WHERE channel_status_id = $1`, kakao.State.ID); got != 2 {
		t.Fatalf("attempts = %d, want 2", got)
	}

	// River re-runs a job whose worker vanished mid-attempt: the claim closes the abandoned
	// attempt as lost and numbers the new one after it, in the same one statement.
	other := engStart(t, d, "ev2", model.ChannelNaver).Channels[0]
	c.take()
	first, ok, err := d.ClaimChannel(ctx, other.DistributionStatusID, model.ChannelNaver, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v", ok, err)
	}
	again, ok, err := d.ClaimChannel(ctx, other.DistributionStatusID, model.ChannelNaver, 1, "system")
	if err != nil || !ok || again.Attempt != 2 || again.AttemptID == first.AttemptID || again.Event.Title != "Event ev2" {
		t.Fatalf("re-run claim: %+v ok=%v err=%v", again, ok, err)
	}
	budget("two claims", 2)
	rows, err := d.Pool.Query(context.Background(), `SELECT attempt || '/' || outcome FROM channel_attempts
		WHERE channel_status_id = $1 ORDER BY attempt`, other.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := pgx.CollectRows(rows, pgx.RowTo[string]); err != nil || fmt.Sprint(got) != "[1/lost 2/running]" {
		t.Fatalf("attempts = %v (%v), want [1/lost 2/running]", got, err)
	}
}

func TestStatementsPerStart(t *testing.T) {
	t.Parallel()
	d, c := countedStore(t)
	ctx := counting(context.Background())
	var reqs []db.StartRequest
	for i := range 5 {
		id := fmt.Sprintf("ev%d", i)
		engEvent(t, d, id)
		reqs = append(reqs, db.StartRequest{EventID: id, Channels: model.AllChannels, Actor: "m@x"})
	}
	c.take()
	// One start: BEGIN, the start statement (distribution, six channels, audit), the removal of
	// its schedule (same round trip), COMMIT; the jobs are the enqueue func's (River's
	// InsertManyTx: one more).
	if _, err := d.StartDistribution(ctx, "ev0", model.AllChannels, "m@x", engNoEnqueue); err != nil {
		t.Fatal(err)
	}
	if n, sent := c.take(); n != 4 {
		t.Errorf("one start: %d statements, budget 4:\n%v", n, sent)
	}
	// A group commit of four: one statement each, one removal of their schedules, one BEGIN and
	// one COMMIT for all.
	for i, r := range d.StartDistributions(ctx, reqs[1:], engNoEnqueue) {
		if r.Err != nil || len(r.Distribution.Channels) != 6 {
			t.Fatalf("start %d: %v", i, r.Err)
		}
	}
	if n, sent := c.take(); n != 2+4+1 {
		t.Errorf("four starts: %d statements, budget 7:\n%v", n, sent)
	}
}

// A terminal finish whose distribution was deleted meanwhile (the parent lock finds no row, the
// batched channel write matches nothing) is stale, and the store stays usable.
func TestFinishAfterDistributionDeletedIsStale(t *testing.T) {
	t.Parallel()
	d, _ := countedStore(t)
	ctx := context.Background()
	dist := engStart(t, d, "ev1", model.ChannelKakao)
	run, ok, err := d.ClaimChannel(ctx, dist.ID, model.ChannelKakao, 1, "system")
	if err != nil || !ok {
		t.Fatalf("claim: ok=%v err=%v", ok, err)
	}
	if _, err := d.Pool.Exec(ctx, `DELETE FROM distribution_status WHERE id = $1`, dist.ID); err != nil {
		t.Fatal(err)
	}
	for _, status := range []model.ChannelStatus{model.StatusSuccess, model.StatusInProgress} {
		res, err := d.FinishChannel(ctx, engFinish(run.State, status, run.AttemptID))
		if err != nil || !res.Stale || res.Channel.ID != 0 {
			t.Fatalf("%s finish of a deleted distribution: %+v %v", status, res, err)
		}
	}
	if got := engCount(t, d, `SELECT count(*) FROM channel_status`); got != 0 {
		t.Fatalf("channel rows = %d", got)
	}
}
