package chaos

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

// pgConnections counts the server connections of the app's database (ours excluded).
func pgConnections(t testing.TB, url string) (total, active int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg, err := pgxpool.ParseConfig(url) // the URL carries pool options
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE state <> 'idle')
		FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&total, &active); err != nil {
		t.Fatal(err)
	}
	return total, active
}

// P3: 100 open SSE streams on a pool of 4 connections: pages are still served promptly and the
// database sees no more than the pool's few connections, none busy (streams hold none).
func TestChaosP3StreamsHoldNoConnection(t *testing.T) {
	t.Parallel()
	// One token stands for the many viewers of this row: lift the per-user stream cap (S7).
	env, _ := newEnv(t, map[string]string{"ROLE": "web", "MAX_STREAMS_PER_USER": "1000000"})
	env["DATABASE_URL"] += "&pool_max_conns=4"
	a := startApp(t, env)
	a.createEvent("p3")
	a.must(http.MethodPost, "/api/v1/events/p3/distribution", `{"channels":["NAVER","KAKAO"]}`, http.StatusAccepted)

	const n = 100
	for i := range n {
		path := "/events/p3/stream"
		if i%2 == 1 {
			path = "/events/stream"
		}
		a.openStream(path, a.token)
	}
	proctest.WaitFor(t, time.Now().Add(20*time.Second), "100 subscribers", func() (bool, string) {
		v, err := a.metric("distribution_live_subscribers")
		return err == nil && v >= n, fmt.Sprintf("%v %v", v, err)
	})
	ds, failed := a.latencies(20, "/", "/events/p3")
	total, active := pgConnections(t, env["DATABASE_URL"])
	if q := p99(ds); q > 300*time.Millisecond || failed > 0 {
		t.Errorf("with %d streams open: p99 %s over 20 page GETs, %d failed; want < 300ms, 0", n, q, failed)
	}
	if total > 4 || active > 0 {
		t.Errorf("with %d streams open the database has %d connections (%d busy); want <= 4 (the pool), none busy", n, total, active)
	}
	record(t, "P3", "100 open SSE streams: pages prompt, streams hold no DB connection",
		fmt.Sprintf("page p99 %s over 20 GETs (pool of 4), %d failed; %d DB connections, %d busy", p99(ds).Round(time.Millisecond), failed, total, active))
}

// S2: many SSE clients vanish at once: the server's goroutines and live subscriptions return to
// their baseline within 5 s. CHAOS_S2_CLIENTS sets the count (default 1,000; `make chaos` 10,000).
func TestChaosS2VanishingClients(t *testing.T) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("CHAOS_S2_CLIENTS")); err == nil && v > 0 {
		n = v
	}
	// One token stands for the many clients of this row: lift the per-user stream cap (S7).
	env, _ := newEnv(t, map[string]string{"ROLE": "web", "MAX_STREAMS_PER_USER": "1000000"})
	a := startApp(t, env)
	a.createEvent("s2")
	// Warm up the server's pools, then take the baseline.
	a.openStream("/events/s2/stream", a.token).close()
	var base float64
	proctest.WaitFor(t, time.Now().Add(10*time.Second), "idle baseline", func() (bool, string) {
		s, _ := a.metric("distribution_live_subscribers")
		g, err := a.metric("go_goroutines")
		base = g
		return err == nil && s == 0, fmt.Sprintf("subscribers %v goroutines %v", s, g)
	})

	tr := &http.Transport{MaxIdleConnsPerHost: -1, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed int
		sem    = make(chan struct{}, 64)
	)
	opened := time.Now()
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			path := "/events/s2/stream"
			if i%2 == 1 {
				path = "/events/stream"
			}
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, a.base+path, nil)
			req.Header.Set("Authorization", "Bearer "+a.token)
			res, err := c.Do(req)
			<-sem
			if err != nil || res.StatusCode != 200 {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			io.Copy(io.Discard, res.Body) //nolint:errcheck // until the client vanishes
			res.Body.Close()
		}()
	}
	proctest.WaitFor(t, time.Now().Add(120*time.Second), fmt.Sprintf("%d subscribers", n), func() (bool, string) {
		v, err := a.metric("distribution_live_subscribers")
		mu.Lock()
		f := failed
		mu.Unlock()
		if f > 0 {
			t.Fatalf("%d streams failed to open", f)
		}
		return err == nil && int(v) >= n, fmt.Sprintf("%v %v", v, err)
	})
	peak, _ := a.metric("go_goroutines")
	t.Logf("%d streams open in %s; goroutines %v -> %v", n, time.Since(opened).Round(time.Millisecond), base, peak)

	cancel() // every client vanishes at once
	gone := time.Now()
	var last float64
	took := proctest.WaitFor(t, gone.Add(5*time.Second), "goroutines and subscribers back to baseline", func() (bool, string) {
		s, err1 := a.metric("distribution_live_subscribers")
		g, err2 := a.metric("go_goroutines")
		last = g
		return err1 == nil && err2 == nil && s == 0 && g <= base+5, fmt.Sprintf("subscribers %v goroutines %v (baseline %v)", s, g, base)
	})
	wg.Wait()
	record(t, "S2", "SSE clients vanish at once: goroutines and subscribers back to baseline in 5 s",
		fmt.Sprintf("%d clients: goroutines %v -> %v -> %v, subscribers 0, in %s", n, base, peak, last, took.Round(time.Millisecond)))
}

// S1: a client that opens a stream and never reads (tiny receive buffer) delays nobody: another
// viewer of the same event still gets every update promptly, and the slow one is dropped by the
// write deadline (10 s) once its buffers are full.
func TestChaosS1SlowClientDropped(t *testing.T) {
	t.Parallel()
	env, _ := newEnv(t, map[string]string{"ROLE": "web"})
	a := startApp(t, env)
	a.createEvent("s1")
	a.must(http.MethodPost, "/api/v1/events/s1/distribution", `{"channels":["NAVER"]}`, http.StatusAccepted)

	// The slow client: raw TCP, 1 KB receive buffer, sends its request and never reads.
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 1024) }) //nolint:errcheck
		return serr
	}}
	slow, err := d.Dial("tcp", a.env["ADDR"])
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	fmt.Fprintf(slow, "GET /events/s1/stream HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", a.env["ADDR"], a.token)

	fast := a.openStream("/events/s1/stream", a.token)
	fast.wait(t, 10*time.Second, `id="dist-s1"`)
	// Both streams open. Counted as streams, not hub subscriptions: the event's shared feed holds a
	// subscription of its own, taken a moment later, so a subscription count read here could be
	// back at its first value after the slow client is gone, and the drop would go unseen.
	const openDetail = `distribution_live_streams_open{kind="detail"}`
	proctest.WaitFor(t, time.Now().Add(10*time.Second), "both streams open", func() (bool, string) {
		v, err := a.metric(openDetail)
		return err == nil && v == 2, fmt.Sprintf("%v %v", v, err)
	})

	store, err := db.Open(context.Background(), env["DATABASE_URL"], slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	rdb, err := cache.NewClient(env["REDIS_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	cc := cache.New(rdb, nil)
	pg, err := pgx.Connect(context.Background(), env["DATABASE_URL"])
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())

	// Updates as a worker makes them (Postgres, then Redis) until the slow client is dropped;
	// the fast viewer must see each one promptly.
	start := time.Now()
	var worst time.Duration
	dropped := time.Duration(0)
	for i := 0; dropped == 0; i++ {
		if time.Since(start) > 40*time.Second {
			t.Fatalf("the slow client was not dropped within 40 s (%d updates)", i)
		}
		// A long error message makes every patch big, so the slow client's buffers fill quickly.
		msg := fmt.Sprintf("update %d %0800d", i, i)
		if _, err := pg.Exec(context.Background(), `UPDATE channel_status SET status='IN_PROGRESS', progress=$2, error_message=$3,
			updated_at=now() WHERE event_id=$1`, "s1", i%100, msg); err != nil {
			t.Fatal(err)
		}
		dist, err := store.FindDistribution(context.Background(), "s1")
		if err != nil {
			t.Fatal(err)
		}
		sent := time.Now()
		if err := cc.PutDistribution(context.Background(), dist); err != nil {
			t.Fatal(err)
		}
		fast.wait(t, 5*time.Second, fmt.Sprintf("update %d ", i))
		worst = max(worst, time.Since(sent)) // from the Redis write to the fast viewer
		if v, err := a.metric(openDetail); err == nil && v < 2 {
			dropped = time.Since(start)
		}
	}
	if worst > time.Second {
		t.Errorf("the fast viewer waited up to %s for an update while a slow client was open", worst)
	}
	// The server closed the slow client's connection: reading drains what was buffered, then EOF.
	slow.SetReadDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	n, err := io.Copy(io.Discard, bufio.NewReader(slow))
	if err != nil {
		t.Errorf("slow client's connection not closed by the server: %v after %d bytes", err, n)
	}
	record(t, "S1", "a slow SSE client delays nobody and is dropped by the write deadline",
		fmt.Sprintf("slow client dropped %s after updates began (10 s write deadline); fast viewer's worst update latency %s", dropped.Round(time.Millisecond), worst.Round(time.Millisecond)))
}
