// Command bench is the performance suite behind `make bench`: it seeds its own database, runs the
// product (bin/distribution serve) as a separate process, drives it from loopback with its own load
// generator, runs the baselines (a reference SSE broadcaster, Mercure, raw pgx, raw River) with the
// same generator in the same run, and prints a markdown table of product figure, baseline, ratio
// and target.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

type options struct {
	bin, mercureBin, out string
	sections             string
	engineParts          string
	fanN                 []int
	jobsN                int
	redisURL             string
	only                 string // fan-out target to run alone (product, reference, mercure); "" = all
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "ref" {
		refMain(os.Args[2:])
		return
	}
	var o options
	var ns string
	flag.StringVar(&o.bin, "bin", "bin/distribution", "the product binary")
	flag.StringVar(&o.mercureBin, "mercure", "bin/bench-mercure", "the Mercure baseline binary (skipped when missing)")
	flag.StringVar(&o.out, "out", "bench/results/latest.md", "results file")
	flag.StringVar(&o.sections, "sections", "pages,lists,engine,fanout,browser", "sections to run")
	flag.StringVar(&ns, "n", "1000,10000", "fan-out client counts")
	flag.IntVar(&o.jobsN, "jobs", 10000, "distributions (x6 channel jobs) for the engine drain")
	flag.StringVar(&o.engineParts, "engine", "starts,updates,drain", "parts of the engine section to run")
	flag.StringVar(&o.redisURL, "redis", "redis://127.0.0.1:6379/12", "Redis (a database index of its own: it is flushed)")
	flag.StringVar(&o.only, "only", "", "run only this fan-out target (product, reference or mercure), for profiling")
	flag.Parse()
	for _, s := range strings.Split(ns, ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			o.fanN = append(o.fanN, n)
		}
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// row is one line of the results table.
type row struct {
	figure, product, baseline, ratio, target, verdict string
}

type results struct{ rows []row }

func (r *results) add(figure, product, baseline, ratio, target string, pass *bool) {
	v := "—"
	if pass != nil {
		v = map[bool]string{true: "pass", false: "FAIL"}[*pass]
	}
	r.rows = append(r.rows, row{figure, product, baseline, ratio, target, v})
	fmt.Fprintf(os.Stderr, "  %s: %s (baseline %s, ratio %s, target %s) %s\n", figure, product, baseline, ratio, target, v)
}

func (r *results) note(figure, text string) {
	r.rows = append(r.rows, row{figure, text, "", "", "", "—"})
	fmt.Fprintf(os.Stderr, "  %s: %s\n", figure, text)
}

func b(v bool) *bool { return &v }

func (r *results) markdown(started time.Time) string {
	var s strings.Builder
	host, _ := os.Hostname()
	fmt.Fprintf(&s, "Run %s on %s: %d cores, %s, %s; took %s.\n\n", started.UTC().Format("2006-01-02 15:04 MST"),
		host, runtime.NumCPU(), memTotal(), runtime.Version(), time.Since(started).Round(time.Second))
	s.WriteString("| figure | product | baseline | ratio | target | result |\n|---|---|---|---|---|---|\n")
	for _, x := range r.rows {
		fmt.Fprintf(&s, "| %s | %s | %s | %s | %s | %s |\n", x.figure, x.product, x.baseline, x.ratio, x.target, x.verdict)
	}
	return s.String()
}

func memTotal() string {
	raw, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "MemTotal:") {
			f := strings.Fields(l)
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%.0f GiB RAM", float64(kb)/1024/1024)
		}
	}
	return "? RAM"
}

func run(o options) error {
	started := time.Now()
	ctx := context.Background()
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	res := &results{}
	want := map[string]bool{}
	for _, s := range strings.Split(o.sections, ",") {
		want[strings.TrimSpace(s)] = true
	}

	var env *benchEnv
	if want["pages"] || want["lists"] || want["fanout"] || want["browser"] {
		fmt.Fprintln(os.Stderr, "bench: seeding 100,000 events")
		var err error
		env, err = newEnv(ctx, o, logger)
		if err != nil {
			return err
		}
		defer env.close()
	}
	if want["pages"] {
		fmt.Fprintln(os.Stderr, "bench: pages")
		if err := benchPages(ctx, env, res); err != nil {
			return fmt.Errorf("pages: %w", err)
		}
	}
	if want["lists"] {
		fmt.Fprintln(os.Stderr, "bench: list streams")
		if err := benchListStreams(ctx, env, res); err != nil {
			return fmt.Errorf("list streams: %w", err)
		}
	}
	if want["engine"] {
		fmt.Fprintln(os.Stderr, "bench: engine")
		if err := benchEngine(ctx, o, logger, res); err != nil {
			return fmt.Errorf("engine: %w", err)
		}
	}
	if want["fanout"] {
		fmt.Fprintln(os.Stderr, "bench: fan-out")
		if err := benchFanout(ctx, o, env, res); err != nil {
			return fmt.Errorf("fan-out: %w", err)
		}
	}
	if want["browser"] {
		fmt.Fprintln(os.Stderr, "bench: browser")
		if err := benchBrowser(ctx, env, res); err != nil {
			res.note("browser write→DOM", "not measured: "+err.Error())
		}
	}
	md := res.markdown(started)
	fmt.Print(md)
	if o.out != "" {
		if err := os.MkdirAll(filepath.Dir(o.out), 0o755); err != nil {
			return err
		}
		return os.WriteFile(o.out, []byte(md), 0o644)
	}
	return nil
}

// benchEnv is the seeded database and the product serving it.
type benchEnv struct {
	dsn, redisURL string
	store         *db.DB
	srv           *proc
	base          string
	debug         string // the product's profiler address (DEBUG_ADDR)
	cookie        *http.Cookie
	drop          func() // drops the database (end of the run)
}

func (e *benchEnv) close() {
	if e.srv != nil {
		e.srv.stop()
	}
	e.store.Close()
	e.drop()
}

// benchDBStale is the age after which a database of the suite that a killed run left behind is
// dropped by a later run (no run takes this long).
const benchDBStale = 6 * time.Hour

// freshDB creates a database of the suite under a name of its own (prefix and a random suffix, so
// two runs never share one) and returns it migrated, with its URL and a drop func for the end of
// the run. Databases of killed runs are dropped by a later run once benchDBStale old.
func freshDB(ctx context.Context, prefix string, logger *slog.Logger) (*db.DB, string, func(), error) {
	admin := dbtest.AdminURL()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return nil, "", nil, err
	}
	defer conn.Close(ctx)
	dropStaleDBs(ctx, conn)
	var sfx [4]byte
	_, _ = rand.Read(sfx[:])
	name := fmt.Sprintf("%s_%x", prefix, sfx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		return nil, "", nil, err
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`COMMENT ON DATABASE %s IS 'bench created %d'`, name, time.Now().Unix())); err != nil {
		return nil, "", nil, err
	}
	drop := func() {
		dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if c, err := pgx.Connect(dctx, admin); err == nil {
			_, _ = c.Exec(dctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			c.Close(dctx)
		}
	}
	dsn := dbtest.WithDatabase(admin, name)
	store, err := db.Open(ctx, dsn, logger)
	if err != nil {
		drop()
		return nil, "", nil, err
	}
	if err := store.Migrate(ctx); err != nil {
		store.Close()
		drop()
		return nil, "", nil, err
	}
	return store, dsn, drop, nil
}

// dropStaleDBs drops the suite's databases that killed runs left behind (best effort).
func dropStaleDBs(ctx context.Context, conn *pgx.Conn) {
	rows, err := conn.Query(ctx, `SELECT d.datname FROM pg_database d
		WHERE d.datname LIKE 'bench\_%'
		  AND substring(shobj_description(d.oid, 'pg_database') FROM '^bench created ([0-9]+)$')::bigint < $1`,
		time.Now().Add(-benchDBStale).Unix())
	if err != nil {
		return
	}
	stale, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	for _, name := range stale {
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
	}
}

// seedSQL makes 100,000 events (80,000 distributions, 480,000 channel rows); ev-2..ev-199 in
// progress, every 100th failed; each INSTAGRAM row has a post URL (the list search row pastes one).
var seedSQL = []string{
	`INSERT INTO events (id, title, store_name, created_at)
	 SELECT 'ev-' || g, 'Event number ' || g, 'Store ' || (g % 50), now() - g * interval '1 second'
	 FROM generate_series(1, 100000) g`,
	`INSERT INTO distribution_status (event_id, overall_status, started_at)
	 SELECT 'ev-' || g, CASE WHEN g % 100 = 0 THEN 'FAILED' WHEN g % 10 = 0 THEN 'PARTIAL_SUCCESS'
	        WHEN g < 200 THEN 'IN_PROGRESS' ELSE 'COMPLETED' END, now()
	 FROM generate_series(1, 100000) g WHERE g % 5 <> 1`,
	`INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id, generation, post_url)
	 SELECT d.id, c, CASE WHEN d.overall_status = 'FAILED' OR (d.overall_status = 'PARTIAL_SUCCESS' AND c = 'KAKAO') THEN 'FAILED'
	        WHEN d.overall_status = 'IN_PROGRESS' THEN 'IN_PROGRESS' ELSE 'SUCCESS' END,
	        CASE WHEN d.overall_status = 'IN_PROGRESS' THEN 0 ELSE 100 END, d.event_id, 1,
	        CASE WHEN c = 'INSTAGRAM' THEN 'https://www.instagram.com/p/Bench' || d.id || '/' END
	 FROM distribution_status d
	 CROSS JOIN unnest(ARRAY['URIDONGNETV', 'RINGOBIZ', 'GINITV', 'INSTAGRAM', 'NAVER', 'KAKAO']) c`,
	`ANALYZE`,
}

func newEnv(ctx context.Context, o options, logger *slog.Logger) (*benchEnv, error) {
	store, dsn, drop, err := freshDB(ctx, "bench_distribution", logger)
	if err != nil {
		return nil, err
	}
	e := &benchEnv{dsn: dsn, redisURL: o.redisURL, store: store, drop: drop}
	for _, s := range seedSQL {
		if _, err := store.Pool.Exec(ctx, s); err != nil {
			e.close()
			return nil, fmt.Errorf("seed: %w", err)
		}
	}
	if err := flushRedis(ctx, o.redisURL); err != nil {
		e.close()
		return nil, err
	}
	svc := auth.NewService(store, auth.Config{}, logger)
	if _, err := svc.CreateUser(ctx, "bench@example.com", "bench-password-1", model.RoleMarketer, "bench"); err != nil {
		e.close()
		return nil, err
	}
	secret, _, err := svc.Login(ctx, "bench@example.com", "bench-password-1", "127.0.0.1", "bench")
	if err != nil {
		e.close()
		return nil, err
	}
	e.cookie = &http.Cookie{Name: handlers.SessionCookieName(false), Value: secret}
	addr := freeAddr()
	e.base, e.debug = "http://"+addr, freeAddr()
	e.srv, err = startProc("product", o.bin, []string{"serve"}, map[string]string{
		"DATABASE_URL": dsn, "REDIS_URL": o.redisURL, "ADDR": addr, "SIMULATOR_ADDR": freeAddr(),
		"ROLE": "web", "LOG_LEVEL": "warn", "DEBUG_ADDR": e.debug,
		// The fan-out rows open up to 10,000 streams with the one bench session: lift the per-user
		// cap for them (the list-streams row spreads its streams over users under the default).
		"MAX_STREAMS_PER_USER": "1000000",
	})
	if err != nil {
		e.close()
		return nil, err
	}
	if err := waitHTTP(e.base+"/healthz", 30*time.Second); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func freeAddr() string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if r, err := http.Get(url); err == nil {
			r.Body.Close()
			if r.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer in %s", url, d)
}

// proc is a server process of the suite.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *bytes.Buffer
}

func startProc(name, bin string, args []string, env map[string]string) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var log bytes.Buffer
	var out io.Writer = &log
	// The servers' logs of the last run are kept beside the profiles.
	if err := os.MkdirAll(profileDir, 0o755); err == nil {
		if f, err := os.Create(filepath.Join(profileDir, name+".log")); err == nil {
			out = io.MultiWriter(&log, f)
		}
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	return &proc{name: name, cmd: cmd, log: &log}, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) stop() {
	_ = p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
}

// cpuTicks is utime+stime of a process in clock ticks (100 per second on Linux).
func cpuTicks(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}

const tickDur = 10 * time.Millisecond

// rssBytes is the resident set of a process.
func rssBytes(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
