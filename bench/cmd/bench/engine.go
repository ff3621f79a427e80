package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
)

const engineClients = 4

// startClients are the concurrencies the starts are measured at. Distributions started per second
// is a capacity: each side's peak rate over these is compared. The raw baseline peaks early (each
// client's transaction runs on its own, and 4 of them fill 2 cores), the product later: its
// starts are group-committed (internal/engine/starts.go), which pays once callers queue, and a
// start alone is its own transaction with the pre-flight read, the audit row and the cache write
// on top. Both curves are in the results, so the peak hides neither.
var startClients = []int{2, 4, 8, 16, 32}

// startModes is how many start figures are measured, each on its own events: the raw 1+6 INSERT
// alone at engineClients, then the product and the raw baseline at each of startClients (events
// 1+k*starts to (k+1)*starts for figure k, in this order).
var startModes = 1 + 2*len(startClients)

// startFigure is the index of the product's figure at clients (raw baseline: the next one).
func startFigure(clients int) int { return 1 + 2*slices.Index(startClients, clients) }

type noopArgs struct{ N int }

func (noopArgs) Kind() string { return "bench_noop" }

type noopWorker struct{ river.WorkerDefaults[noopArgs] }

func (noopWorker) Work(context.Context, *river.Job[noopArgs]) error { return nil }

// parallel runs fn(i) for i in [0, n) over engineClients goroutines and returns ops/s.
func parallel(n int, fn func(i int) error) (float64, error) { return parallelN(engineClients, n, fn) }

// parallelN runs fn(i) for i in [0, n) over clients goroutines and returns ops/s.
func parallelN(clients, n int, fn func(i int) error) (float64, error) {
	var (
		next atomic.Int64
		ferr atomic.Value
		wg   sync.WaitGroup
	)
	t0 := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					ferr.Store(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err, ok := ferr.Load().(error); ok {
		return 0, err
	}
	return float64(n) / time.Since(t0).Seconds(), nil
}

func ratioRow(res *results, figure string, prod, base float64, unit string, min float64) {
	r := prod / base
	res.add(figure, fmt.Sprintf("%.0f %s", prod, unit), fmt.Sprintf("%.0f %s", base, unit), fmt.Sprintf("%.2fx", r),
		fmt.Sprintf("≥ %.1fx", min), b(r >= min))
}

// engineRedisURL is the engine section's Redis: the suite's database index plus one, flushed. The
// other sections' server stays up through this one and subscribes to its own database's keyspace
// notifications; sharing the index made it decode every cache write of the engine's drain (60,000
// finishes), CPU the drain paid and the raw River baseline, which writes no cache, did not.
func engineRedisURL(suite string) (string, error) {
	u, err := url.Parse(suite)
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimPrefix(u.Path, "/"))
	if err != nil {
		n = 0
	}
	u.Path = "/" + strconv.Itoa((n+1)%16)
	return u.String(), nil
}

func benchEngine(ctx context.Context, o options, logger *slog.Logger, res *results) error {
	var err error
	if o.redisURL, err = engineRedisURL(o.redisURL); err != nil {
		return err
	}
	if err := flushRedis(ctx, o.redisURL); err != nil {
		return err
	}
	store, dsn, drop, err := freshDB(ctx, "bench_engine", logger)
	if err != nil {
		return err
	}
	defer drop()
	defer store.Close()
	parts := map[string]bool{}
	for _, p := range strings.Split(o.engineParts, ",") {
		parts[strings.TrimSpace(p)] = true
	}
	if parts["updates"] && !parts["starts"] {
		return fmt.Errorf("-engine updates needs starts (it updates their rows)")
	}
	const starts = 2000
	// The starts section's figures, each on its own events (startModes); the drain's follow.
	total := startModes*starts + o.jobsN
	if _, err := store.Pool.Exec(ctx, `INSERT INTO events (id, title, created_at)
		SELECT 'en-' || g, 'Engine event ' || g, now() - g * interval '1 second' FROM generate_series(1, $1) g`, total); err != nil {
		return err
	}
	// The service's own engine as a web replica builds it: insert-only (the jobs are not run).
	cfg := config.Default()
	cfg.DatabaseURL, cfg.RedisURL, cfg.Role = dsn, o.redisURL, config.RoleWeb
	svc, err := app.New(cfg, app.WithLogger(logger))
	if err != nil {
		return err
	}
	defer svc.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // nothing was started
	eng := svc.Engine
	chans := model.AllChannels
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = string(c)
	}

	// Starts: the product (event lock, 1+6 rows, audit, 6 River jobs, one tx; concurrent starts
	// group-committed; the cache written after the commit) vs the raw 1+6 INSERT plus River's
	// InsertMany of the same 6 jobs, each at 2 to 32 clients: the figure is their peak rates (see
	// startClients), and each concurrency is reported beside it. The raw 1+6 INSERT alone, at 4
	// clients, says what the jobs cost.
	jobClient, err := river.NewClient(riverpgxv5.New(store.Pool), &river.Config{Logger: logger})
	if err != nil {
		return err
	}
	next := 0
	events := func(k int) []string {
		ids := make([]string, k)
		for i := range ids {
			next++
			ids[i] = fmt.Sprintf("en-%d", next)
		}
		return ids
	}
	rawStart := func(withJobs bool) func(ids []string) func(i int) error {
		return func(ids []string) func(i int) error {
			return func(i int) error {
				return pgx.BeginFunc(ctx, store.Pool, func(tx pgx.Tx) error {
					var id int64
					if err := tx.QueryRow(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at)
						VALUES ($1, 'IN_PROGRESS', now()) RETURNING id`, ids[i]).Scan(&id); err != nil {
						return err
					}
					if _, err := tx.Exec(ctx, `INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id, retries, generation, update_timestamp)
						SELECT $1, ch, 'PENDING', 0, $2, 0, 1, now() FROM unnest($3::text[]) ch`, id, ids[i], names); err != nil {
						return err
					}
					if !withJobs {
						return nil
					}
					ps := make([]river.InsertManyParams, len(names))
					for k := range ps {
						ps[k] = river.InsertManyParams{Args: noopArgs{N: int(id)*10 + k}, InsertOpts: &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}}}
					}
					_, err := jobClient.InsertManyTx(ctx, tx, ps)
					return err
				})
			}
		}
	}
	prodStart := func(ids []string) func(i int) error {
		return func(i int) error {
			_, err := eng.StartDistribution(ctx, ids[i], chans, "bench")
			return err
		}
	}
	if parts["starts"] {
		// Each figure gets its own events (in startModes' order: the updates use the rows of the
		// product's and the raw INSERT's at engineClients), measured in startRounds interleaved
		// rounds, so a shared machine's load drifting during the section weighs on product and
		// baselines alike.
		const startRounds = 4
		type startMode struct {
			clients int
			fn      func(ids []string) func(i int) error
		}
		modes := []startMode{{engineClients, rawStart(false)}}
		for _, c := range startClients {
			modes = append(modes, startMode{c, prodStart}, startMode{c, rawStart(true)})
		}
		if len(modes) != startModes {
			return fmt.Errorf("bench: %d start figures, startModes says %d", len(modes), startModes)
		}
		ids := make([][]string, len(modes))
		for i := range modes {
			ids[i] = events(starts)
		}
		took := make([]time.Duration, len(modes))
		for r := range startRounds {
			for i, m := range modes {
				chunk := ids[i][r*starts/startRounds : (r+1)*starts/startRounds]
				t0 := time.Now()
				if _, err := parallelN(m.clients, len(chunk), m.fn(chunk)); err != nil {
					return err
				}
				took[i] += time.Since(t0)
			}
		}
		rate := func(i int) float64 { return float64(starts) / took[i].Seconds() }
		// Peak rates: the product's at the concurrency it does best, the baseline's at its own.
		var prodPeak, rawPeak float64
		var prodAt, rawAt int
		curve := make([]string, 0, len(startClients))
		for _, c := range startClients {
			p, r := rate(startFigure(c)), rate(startFigure(c)+1)
			if p > prodPeak {
				prodPeak, prodAt = p, c
			}
			if r > rawPeak {
				rawPeak, rawAt = r, c
			}
			curve = append(curve, fmt.Sprintf("%d: %.0f/%.0f (%.2fx)", c, p, r, p/r))
		}
		peak := prodPeak / rawPeak
		prod4, raw4 := rate(startFigure(engineClients)), rate(startFigure(engineClients)+1)
		res.add(fmt.Sprintf("engine: distributions started/s, peak over %d–%d clients, vs raw 1+6 INSERT + River InsertMany of its 6 jobs",
			startClients[0], startClients[len(startClients)-1]), fmt.Sprintf("%.0f /s (%d clients)", prodPeak, prodAt),
			fmt.Sprintf("%.0f /s (%d clients)", rawPeak, rawAt), fmt.Sprintf("%.2fx", peak), "≥ 0.8x", b(peak >= 0.8))
		res.add(fmt.Sprintf("engine: distributions started/s at %d clients vs the same baseline at %d clients", engineClients, engineClients),
			fmt.Sprintf("%.0f /s", prod4), fmt.Sprintf("%.0f /s", raw4), fmt.Sprintf("%.2fx", prod4/raw4), "—", nil)
		res.note("engine: distributions started/s by clients, product/baseline", strings.Join(curve, "; "))
		res.add(fmt.Sprintf("engine: distributions started/s (%d clients) vs raw 1+6 INSERT alone (no jobs)", engineClients),
			fmt.Sprintf("%.0f /s", prod4), fmt.Sprintf("%.0f /s", rate(0)), fmt.Sprintf("%.2fx", prod4/rate(0)), "—", nil)
		// The starts' channels are IN_PROGRESS for the status updates, and their jobs are not
		// part of the drain.
		if _, err := store.Pool.Exec(ctx, `UPDATE channel_status SET status = 'IN_PROGRESS'`); err != nil {
			return err
		}
		if _, err := store.Pool.Exec(ctx, `DELETE FROM river_job`); err != nil {
			return err
		}
	}
	if parts["updates"] {
		if err := benchUpdates(ctx, store, starts, res); err != nil {
			return err
		}
	}
	if parts["drain"] {
		// The drain starts from empty status tables: the starts leave 24,000 distributions, their
		// 144,000 channel rows IN_PROGRESS and as many deleted jobs, which the drain's jobs and
		// the worker's periodic scans otherwise wade through (0.37x against 0.54-0.57x when the
		// starts left 10,000). The events stay: the drain starts its own. No ANALYZE here: planned
		// as empty, the drain's statements scanned the growing tables (0.30-0.39x).
		if _, err := store.Pool.Exec(ctx, `TRUNCATE river_job, audit_log, channel_status, distribution_status CASCADE`); err != nil {
			return err
		}
		return benchDrain(ctx, o, logger, store, dsn, eng, startModes*starts+1, res)
	}
	return nil
}

// benchUpdates: db.UpdateChannelProgress (fenced, never backwards, RETURNING the row) vs a raw
// single-row UPDATE, same pool, same clients, same number of rows (the rows of the starts).
func benchUpdates(ctx context.Context, store *db.DB, starts int, res *results) error {
	ids := func(lo, hi int) ([]int64, error) {
		rows, err := store.Pool.Query(ctx, `SELECT cs.id FROM channel_status cs JOIN distribution_status d ON d.id = cs.distribution_status_id
			WHERE d.event_id = ANY(SELECT 'en-' || g FROM generate_series($1::int, $2::int) g) ORDER BY cs.id`, lo, hi)
		if err != nil {
			return nil, err
		}
		return pgx.CollectRows(rows, pgx.RowTo[int64])
	}
	first := startFigure(engineClients) * starts // the product's rows at engineClients
	prodIDs, err := ids(first+1, first+starts)
	if err != nil {
		return err
	}
	rawIDs, err := ids(1, starts) // the raw INSERT's rows, at engineClients
	if err != nil {
		return err
	}
	const steps = 3
	n := len(prodIDs) * steps
	prodUpd, err := parallel(n, func(i int) error {
		_, _, err := store.UpdateChannelProgress(ctx, prodIDs[i%len(prodIDs)], 1, 1+i/len(prodIDs))
		return err
	})
	if err != nil {
		return err
	}
	rawUpd, err := parallel(n, func(i int) error {
		_, err := store.Pool.Exec(ctx, `UPDATE channel_status SET progress = $2, update_timestamp = now(), updated_at = now() WHERE id = $1`,
			rawIDs[i%len(rawIDs)], 1+i/len(rawIDs))
		return err
	})
	if err != nil {
		return err
	}
	ratioRow(res, fmt.Sprintf("engine: channel status updates/s (%d clients)", engineClients), prodUpd, rawUpd, "/s", 0.8)
	return nil
}

// benchDrain: N distributions x 6 channels through the real workers (bin/distribution serve,
// ROLE=worker, SIMULATOR_STEP=0) vs a raw River no-op worker draining as many jobs. The
// distributions are started with events first, first+1, ...
//
// The ratio compares steady states: the jobs finished between the moments 10 % and 90 % of them
// were done, over that time, for both. The product's figure would otherwise carry its process
// start (connections, River's leader election, the embedded simulator) and the last poll, which
// the raw client, already built and in-process, does not; the wall times are reported beside it.
func benchDrain(ctx context.Context, o options, logger *slog.Logger, store *db.DB, dsn string, eng *engine.Engine, first int, res *results) error {
	chans := model.AllChannels
	if _, err := parallel(o.jobsN, func(i int) error {
		_, err := eng.StartDistribution(ctx, fmt.Sprintf("en-%d", first+i), chans, "bench")
		return err
	}); err != nil {
		return err
	}
	jobs := o.jobsN * len(chans)
	t0 := time.Now()
	debug := freeAddr()
	worker, err := startProc("worker", o.bin, []string{"serve"}, map[string]string{
		"DATABASE_URL": dsn, "REDIS_URL": o.redisURL, "ROLE": "worker", "SIMULATOR_STEP": "0",
		"SIMULATOR_ADDR": freeAddr(), "ADDR": freeAddr(), "LOG_LEVEL": "warn", "DEBUG_ADDR": debug,
		"KAKAO_QUIET_HOURS": "off", // the bench measures throughput at any hour
	})
	if err != nil {
		return err
	}
	stopCPU := func() {}
	if waitHTTP("http://"+debug+"/debug/pprof/", 10*time.Second) == nil {
		stopCPU = startCPUProfile(debug, "cpu-drain")
	}
	deadline := time.Now().Add(5 * time.Minute)
	var (
		done    int
		samples []drainSample
	)
	for time.Now().Before(deadline) {
		// Finished distributions (only the drained ones finish in this database): a count over
		// their few rows, so the polling costs the drain little (counting the channel rows cost
		// 15 ms a poll at 60,000 jobs, 6 % of a core).
		var n int
		if err := store.Pool.QueryRow(ctx, `SELECT count(*) FROM distribution_status WHERE completed_at IS NOT NULL`).Scan(&n); err != nil {
			worker.stop()
			return err
		}
		done = n * len(chans)
		samples = append(samples, drainSample{time.Now(), done})
		if done >= jobs {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	prodWall := time.Since(t0)
	stopCPU()
	worker.stop()
	if done < jobs {
		return fmt.Errorf("drain: %d of %d channels finished in time; worker log:\n%s", done, jobs, worker.log.String())
	}

	workers := river.NewWorkers()
	river.AddWorker(workers, noopWorker{})
	rc, err := river.NewClient(riverpgxv5.New(store.Pool), &river.Config{
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: engine.DefaultWorkers}},
		FetchCooldown: engine.FetchCooldown, // the product's River configuration
		Workers:       workers, Logger: logger,
	})
	if err != nil {
		return err
	}
	params := make([]river.InsertManyParams, jobs)
	for i := range params {
		params[i] = river.InsertManyParams{Args: noopArgs{N: i}}
	}
	for i := 0; i < jobs; i += 1000 {
		if _, err := rc.InsertMany(ctx, params[i:min(i+1000, jobs)]); err != nil {
			return err
		}
	}
	sub, cancel := rc.Subscribe(river.EventKindJobCompleted)
	defer cancel()
	t1 := time.Now()
	if err := rc.Start(ctx); err != nil {
		return err
	}
	got := 0
	rawSamples := make([]drainSample, 0, jobs)
	timeout := time.After(5 * time.Minute)
	for got < jobs {
		select {
		case <-sub:
			got++
			rawSamples = append(rawSamples, drainSample{time.Now(), got})
		case <-timeout:
			return fmt.Errorf("drain: raw River finished %d of %d jobs in 5 minutes", got, jobs)
		}
	}
	rawWall := time.Since(t1)
	stopCtx, c2 := context.WithTimeout(ctx, 10*time.Second)
	_ = rc.Stop(stopCtx)
	c2()
	prodRate, rawRate := steadyRate(samples, jobs), steadyRate(rawSamples, jobs)
	res.add(fmt.Sprintf("engine: %d distributions x 6 channels, SIMULATOR_STEP=0: wall time (process start to last job)", o.jobsN),
		prodWall.Round(time.Millisecond).String(), rawWall.Round(time.Millisecond).String()+" (raw River no-op)",
		fmt.Sprintf("%.2fx", rawWall.Seconds()/prodWall.Seconds()), "—", nil)
	ratioRow(res, fmt.Sprintf("engine: channel jobs/s (%d jobs, %d workers; steady state, 10-90 %% of the jobs)", jobs, engine.DefaultWorkers),
		prodRate, rawRate, "jobs/s", 0.5)
	return nil
}

// drainSample is how many jobs were done at a moment of a drain.
type drainSample struct {
	at   time.Time
	done int
}

// steadyRate is the drain rate between the moments 10 % and 90 % of jobs were done, each found by
// linear interpolation between the samples around it (samples in time order, done never falling).
func steadyRate(samples []drainSample, jobs int) float64 {
	at := func(target float64) time.Time {
		for i, x := range samples {
			if float64(x.done) < target {
				continue
			}
			if i == 0 {
				return x.at
			}
			p := samples[i-1]
			f := (target - float64(p.done)) / float64(x.done-p.done)
			return p.at.Add(time.Duration(f * float64(x.at.Sub(p.at))))
		}
		return samples[len(samples)-1].at
	}
	lo, hi := 0.1*float64(jobs), 0.9*float64(jobs)
	return (hi - lo) / at(hi).Sub(at(lo)).Seconds()
}
