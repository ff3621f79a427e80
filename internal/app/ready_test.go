package app_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/app"
	"github.com/marketing-platform/distribution/internal/config"
)

// TestReadyzStartingUntilStarted: the ops listener is up before the migrations run, so a probe
// can reach it while the process is still starting. /readyz must answer 503 "starting" then, even
// though the schema it checks is already in place (here: another migrator holds the migration lock,
// as a replica starting beside this one would; in the image test, River's migrations were still
// running when /readyz first said 200). Once Start returns it is ready.
func TestReadyzStartingUntilStarted(t *testing.T) {
	t.Parallel()
	cfg := testConfig(t, config.RoleWorker)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.OpsAddr = l.Addr().String()
	l.Close()

	ctx := context.Background()
	holder, err := pgx.Connect(ctx, cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(727001)"); err != nil { // db.migrationLock
		t.Fatal(err)
	}

	a, err := app.New(cfg, app.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() { started <- a.Start(ctx) }()
	released := false
	defer func() { // on any outcome: let Start finish, then stop what it started
		if !released {
			holder.Close(ctx)
			<-started
		}
		stop(t, a)
	}()

	// While Start waits for the lock, the ops listener answers: 503 starting.
	code, body := pollReadyz(t, "http://"+cfg.OpsAddr+"/readyz", func(code int, _ map[string]string) bool { return code != 0 })
	if code != http.StatusServiceUnavailable || body["status"] != "starting" {
		t.Fatalf("/readyz while starting = %d %v, want 503 starting", code, body)
	}
	select {
	case err := <-started:
		t.Fatalf("Start returned (%v) while the migration lock was held", err)
	default:
	}

	released = true
	holder.Close(ctx) // ends its session: the lock is released
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if code, body := pollReadyz(t, "http://"+cfg.OpsAddr+"/readyz", func(code int, _ map[string]string) bool { return code != 0 }); code != http.StatusOK || body["status"] != "ok" {
		t.Fatalf("/readyz after Start = %d %v, want 200 ok", code, body)
	}
}

// pollReadyz GETs url until done accepts the answer (code 0: no answer yet), for up to 20 s.
func pollReadyz(t *testing.T, url string, done func(int, map[string]string) bool) (int, map[string]string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, body := 0, map[string]string{}
		if resp, err := http.Get(url); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			code = resp.StatusCode
			_ = json.Unmarshal(b, &body)
		}
		if done(code, body) || time.Now().After(deadline) {
			return code, body
		}
		time.Sleep(20 * time.Millisecond) // polling interval, not synchronisation: done decides
	}
}
