package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

// TestMain checks that Stop leaves no goroutine behind (goleak).
func TestMain(m *testing.M) { dbtest.Main(m) }

func testConfig(t *testing.T, role string) config.Config {
	t.Helper()
	cfg := config.Default()
	cfg.DatabaseURL = dbtest.NewURL(t)
	cfg.RedisURL = dbtest.StartRedis(t).URL
	cfg.Addr = "127.0.0.1:0"
	cfg.Role = role
	cfg.MaintenanceStartAtOnce = true
	cfg.JobFetchPollInterval = 20 * time.Millisecond
	cfg.SimulatorStep = 0
	cfg.ShutdownDelay = 0                // no load balancer to drain from; TestDrain sets its own
	cfg.KakaoQuietHours = quiethours.Off // KAKAO must not wait for the morning when tests run at Korea's night
	return cfg
}

func stop(t *testing.T, a *app.App) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestAllRoleServesAndDistributes: ROLE=all serves HTTP on the bound port, is ready (Postgres,
// Redis and keyspace notifications), and its workers finish a distribution through the embedded
// simulator.
func TestAllRoleServesAndDistributes(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t, config.RoleAll))
	ctx := context.Background()
	if _, port, _ := net.SplitHostPort(a.Addr()); port == "0" {
		t.Fatalf("Addr = %s, want the bound port", a.Addr())
	}
	res, err := http.Get(a.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready map[string]string
	err = json.NewDecoder(res.Body).Decode(&ready)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("readyz: %d %v %v", res.StatusCode, ready, err)
	}

	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "wired once", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelInstagram}, "test"); err != nil {
		t.Fatal(err)
	}
	waitCompleted(t, a, e.ID)
}

// TestWorkerRoleServesNoHTTP: ROLE=worker builds no web parts and listens on nothing.
func TestWorkerRoleServesNoHTTP(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWorker)
	a := startApp(t, cfg)
	if a.Handlers != nil || a.Hub != nil {
		t.Error("worker role built the web parts")
	}
}

// TestHTTPRestart: the web server stops and starts again on the same listener address while the
// rest keeps running (what the e2e deploy test does).
func TestHTTPRestart(t *testing.T) {
	t.Parallel()
	a := startApp(t, testConfig(t, config.RoleWeb))
	if err := a.StopHTTP(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.StartHTTP(ln); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(a.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("healthz after restart: %d", res.StatusCode)
	}
}

// TestNewRejectsInvalidConfig: New validates the Config it is given, not only Load.
func TestNewRejectsInvalidConfig(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Role = "both"
	if _, err := app.New(cfg); err == nil {
		t.Fatal("New accepted ROLE=both")
	}
}

// TestThroughPgBouncer: DATABASE_URL through a private transaction-mode PgBouncer and
// DATABASE_DIRECT_URL direct. The app starts (migrations under the advisory lock on the direct
// connection), is ready (Postgres answers through the pooler), its River workers finish a
// distribution written and read through the pooler, and a principal change (a revocation: the
// user is disabled) made through the pooler reaches the principal listener.
func TestThroughPgBouncer(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleAll)
	cfg.DatabaseDirectURL = cfg.DatabaseURL
	pb := dbtest.StartPgBouncer(t, cfg.DatabaseDirectURL, 4)
	cfg.DatabaseURL = pb.URL
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		stop(t, a)
		t.Fatalf("start: %v\n%s", err, pb.Log())
	}
	defer stop(t, a)
	if a.Store.Session == a.Store.Pool {
		t.Fatal("no direct pool with DATABASE_DIRECT_URL set")
	}
	res, err := http.Get(a.URL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("readyz through the pooler: %d", res.StatusCode)
	}

	heard := make(chan int64, 10)
	lctx, cancel := context.WithCancel(ctx)
	ldone := make(chan error, 1)
	go func() {
		ldone <- a.Store.ListenPrincipalChanges(lctx, func(id int64) {
			select {
			case heard <- id:
			default:
			}
		})
	}()
	defer func() { cancel(); <-ldone }()

	e, err := a.Store.CreateEvent(ctx, model.Event{Title: "pooled", StoreName: "app test"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Engine.StartDistribution(ctx, e.ID, []model.Channel{model.ChannelInstagram, model.ChannelNaver}, "test"); err != nil {
		t.Fatal(err)
	}
	testkit.EventuallyErr(t, 30*time.Second, "the distribution to complete through the pooler", func() error {
		d, err := a.Store.FindDistribution(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !d.OverallStatus.Terminal() {
			return fmt.Errorf("still %s", d.OverallStatus)
		}
		if d.OverallStatus != model.OverallCompleted {
			t.Fatalf("overall status %s, want COMPLETED", d.OverallStatus)
		}
		return nil
	})

	// A read of the API (token authentication, the event) through the pooler.
	token, err := a.Auth.CreateToken(ctx, "pgbouncer", model.RoleMarketer, "test")
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, a.URL()+"/api/v1/events/"+e.ID+"/distribution", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var dist model.Distribution
	err = json.NewDecoder(res.Body).Decode(&dist)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK || dist.OverallStatus != model.OverallCompleted {
		t.Fatalf("GET distribution through the pooler: %d %v %+v", res.StatusCode, err, dist)
	}

	// The listener's LISTEN runs on its own connection: a change is heard once it listens.
	u, err := a.Store.CreateUser(ctx, "ann@example.com", "$argon2id$dummy", model.RoleMarketer)
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, 10*time.Second, "the revocation to reach the principal listener", func() bool {
		if err := a.Store.SetUserDisabled(ctx, u.ID, true); err != nil {
			t.Fatal(err)
		}
		for {
			select {
			case id := <-heard:
				if id == u.ID {
					return true
				}
			default:
				return false
			}
		}
	})
}

// getJSON GETs url and decodes its JSON object body.
func getJSON(t *testing.T, url string) (int, map[string]string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %d, body not JSON: %v", url, res.StatusCode, err)
	}
	return res.StatusCode, body
}

// TestReadyzDegradedWithoutRedis: with Redis stopped the process still serves from PostgreSQL, so
// /readyz stays 200 (it stays in the load balancer) and reports Redis degraded in the body.
func TestReadyzDegradedWithoutRedis(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWeb)
	rds := dbtest.StartRedis(t)
	cfg.RedisURL = rds.URL
	a := startApp(t, cfg)
	if code, body := getJSON(t, a.URL()+"/readyz"); code != http.StatusOK || body["status"] != "ok" || body["migrations"] != "ok" {
		t.Fatalf("readyz = %d %v, want 200 ok", code, body)
	}
	rds.Stop()
	code, body := getJSON(t, a.URL()+"/readyz")
	if code != http.StatusOK || body["status"] != "degraded" || body["redis"] == "ok" || body["postgres"] != "ok" {
		t.Fatalf("readyz with Redis stopped = %d %v, want 200 degraded naming redis", code, body)
	}
}

// get GETs url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, string(b)
}

// TestOpsListener: OPS_ADDR serves /healthz, /readyz and /metrics without application auth for
// every role (a worker has no other listener), and the profiler only with OPS_PPROF.
func TestOpsListener(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		role  string
		pprof bool
	}{{config.RoleWorker, false}, {config.RoleWeb, true}} {
		t.Run(tc.role, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, tc.role)
			cfg.OpsAddr, cfg.OpsPprof = "127.0.0.1:0", tc.pprof
			a := startApp(t, cfg)
			base := "http://" + a.OpsAddr()
			if code, body := get(t, base+"/healthz"); code != http.StatusOK {
				t.Errorf("ops /healthz = %d %s", code, body)
			}
			if code, body := getJSON(t, base+"/readyz"); code != http.StatusOK || body["status"] != "ok" {
				t.Errorf("ops /readyz = %d %v, want 200 ok", code, body)
			}
			code, body := get(t, base+"/metrics")
			if code != http.StatusOK || !strings.Contains(body, "go_goroutines") {
				t.Errorf("ops /metrics = %d, want 200 with the service's metrics:\n%.500s", code, body)
			}
			want := http.StatusNotFound
			if tc.pprof {
				want = http.StatusOK
			}
			if code, _ := get(t, base+"/debug/pprof/"); code != want {
				t.Errorf("ops /debug/pprof/ with OpsPprof=%v = %d, want %d", tc.pprof, code, want)
			}
			if code, _ := get(t, base+"/"); code != http.StatusNotFound {
				t.Errorf("ops / = %d, want 404 (no application routes on the ops port)", code)
			}
		})
	}
}

// TestDrain: Stop marks the process unready at once (/readyz 503 on ADDR and OPS_ADDR) and keeps
// serving for SHUTDOWN_DELAY (/healthz 200, pages still answered) before it stops HTTP.
func TestDrain(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleAll)
	cfg.OpsAddr = "127.0.0.1:0"
	cfg.ShutdownDelay = 2 * time.Second // long enough to probe, short enough for a test
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	main, ops := a.URL(), "http://"+a.OpsAddr()
	if code, _ := get(t, main+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz before Stop = %d", code)
	}
	start := time.Now()
	stopped := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		stopped <- a.Stop(ctx)
	}()
	testkit.Eventually(t, time.Second, "/readyz 503 after Stop began", func() bool {
		code, _ := get(t, main+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	for _, base := range []string{main, ops} {
		if code, body := getJSON(t, base+"/readyz"); code != http.StatusServiceUnavailable || body["status"] != "draining" {
			t.Errorf("%s/readyz while draining = %d %v, want 503 draining", base, code, body)
		}
		if code, body := get(t, base+"/healthz"); code != http.StatusOK {
			t.Errorf("%s/healthz while draining = %d %s, want 200", base, code, body)
		}
	}
	if code, _ := get(t, main+"/login"); code != http.StatusOK {
		t.Errorf("GET /login while draining = %d, want 200 (still serving)", code)
	}
	if took := time.Since(start); took >= cfg.ShutdownDelay {
		t.Fatalf("probes took %s, longer than SHUTDOWN_DELAY: the checks above prove nothing", took)
	}
	select {
	case err := <-stopped:
		t.Fatalf("Stop returned (%v) before SHUTDOWN_DELAY", err)
	default:
	}
	if err := <-stopped; err != nil {
		t.Errorf("stop: %v", err)
	}
	if took := time.Since(start); took < cfg.ShutdownDelay {
		t.Errorf("Stop took %s, want at least SHUTDOWN_DELAY %s", took, cfg.ShutdownDelay)
	}
	if _, err := http.Get(main + "/healthz"); err == nil {
		t.Error("main listener still serving after Stop")
	}
}

// TestMigrateOnStartFalse: with MIGRATE_ON_START=false, Start migrates nothing and refuses to run
// on a database the migrate job has not brought up to date.
func TestMigrateOnStartFalse(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWeb)
	cfg.MigrateOnStart = false
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	latest, err := db.LatestMigration()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Store.Pool.Exec(context.Background(), "DELETE FROM schema_migrations WHERE version = $1", latest); err != nil {
		t.Fatal(err)
	}
	err = a.Start(context.Background())
	stop(t, a)
	if err == nil || !strings.Contains(err.Error(), "distribution migrate") {
		t.Fatalf("Start on an unmigrated database = %v, want an error saying to run distribution migrate", err)
	}
	var n int
	if err := pgxCount(cfg.DatabaseURL, latest, &n); err != nil || n != 0 {
		t.Errorf("Start applied %s anyway (rows %d, %v)", latest, n, err)
	}

	// Recorded as applied (as `distribution migrate` would): it starts.
	b, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Store.Pool.Exec(context.Background(), "INSERT INTO schema_migrations (version) VALUES ($1)", latest); err != nil {
		t.Fatal(err)
	}
	if err := b.Start(context.Background()); err != nil {
		stop(t, b)
		t.Fatal(err)
	}
	stop(t, b)
}

func pgxCount(dsn, version string, n *int) error {
	d, err := db.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations WHERE version = $1", version).Scan(n)
}

// waitCompleted waits until the distribution of eventID is terminal, and fails unless it is
// COMPLETED.
func waitCompleted(t *testing.T, a *app.App, eventID string) {
	t.Helper()
	var d model.Distribution
	testkit.EventuallyErr(t, 30*time.Second, "the distribution of "+eventID+" to finish", func() (err error) {
		if d, err = a.Store.FindDistribution(context.Background(), eventID); err == nil && !d.OverallStatus.Terminal() {
			err = fmt.Errorf("still %s", d.OverallStatus)
		}
		return err
	})
	if d.OverallStatus != model.OverallCompleted {
		t.Fatalf("overall status %s, want COMPLETED", d.OverallStatus)
	}
}

// startApp builds the service of cfg (quiet logger), starts it and stops it when the test ends.
func startApp(t *testing.T, cfg config.Config, opts ...app.Option) *app.App {
	t.Helper()
	a, err := app.New(cfg, append([]app.Option{app.WithLogger(slog.New(slog.DiscardHandler))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(t, a) })
	return a
}
