package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
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
	a, err := app.New(testConfig(t, config.RoleAll), app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := a.Start(ctx); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	defer stop(t, a)
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
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := a.Store.FindDistribution(ctx, e.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.OverallStatus.Terminal() {
			if d.OverallStatus != model.OverallCompleted {
				t.Fatalf("overall status %s, want COMPLETED", d.OverallStatus)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("distribution still %s", d.OverallStatus)
		}
		time.Sleep(20 * time.Millisecond) // poll with a deadline
	}
}

// TestWorkerRoleServesNoHTTP: ROLE=worker builds no web parts and listens on nothing.
func TestWorkerRoleServesNoHTTP(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWorker)
	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	defer stop(t, a)
	if a.Handlers != nil || a.Hub != nil {
		t.Error("worker role built the web parts")
	}
}

// TestHTTPRestart: the web server stops and starts again on the same listener address while the
// rest keeps running (what the e2e deploy test does).
func TestHTTPRestart(t *testing.T) {
	t.Parallel()
	a, err := app.New(testConfig(t, config.RoleWeb), app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		stop(t, a)
		t.Fatal(err)
	}
	defer stop(t, a)
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
