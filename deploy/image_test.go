package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestImageRunsOffline builds the runtime image the way an operator without a registry would
// (`make image-local`: buildah, FROM scratch, no base image pulled) and runs it with buildah's
// chroot isolation (no container runtime, no cgroups needed): the binary answers `version`, runs
// as uid 65532, and `serve` migrates a fresh database, becomes ready on the ops port, exports its
// metrics, and drains and exits 0 on SIGTERM. buildah is installed by `make test-tools`.
func TestImageRunsOffline(t *testing.T) {
	for _, tool := range []string{"buildah", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not on PATH: run `make test-tools` (buildah) and `make test-deploy` from the Makefile (psql via scripts/services.sh path)", tool)
		}
	}
	maint := os.Getenv("TEST_DATABASE_URL")
	redisURL := os.Getenv("REDIS_URL")
	if maint == "" || redisURL == "" {
		t.Fatal("TEST_DATABASE_URL and REDIS_URL must be set (the Makefile exports them)")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	image := fmt.Sprintf("localhost/distribution:imagetest-%d", os.Getpid())
	run(t, root, "make", "image-local", "IMAGE="+image)
	t.Cleanup(func() { _ = exec.Command("buildah", "rmi", "-f", image).Run() })

	ctr := strings.TrimSpace(run(t, root, "buildah", "from", "--pull-never", image))
	t.Cleanup(func() { _ = exec.Command("buildah", "rm", ctr).Run() })

	if user := strings.TrimSpace(run(t, root, "buildah", "inspect", "--format", "{{.OCIv1.Config.User}}", ctr)); user != "65532:65532" {
		t.Errorf("image user %q, want 65532:65532", user)
	}
	if out := run(t, root, "buildah", "run", "--isolation", "chroot", ctr, "/usr/local/bin/distribution", "version"); !strings.HasPrefix(out, "distribution ") {
		t.Errorf("version printed %q", out)
	}

	db := fmt.Sprintf("distribution_imagetest_%d", os.Getpid())
	run(t, root, "psql", maint, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE "+db)
	t.Cleanup(func() { _ = exec.Command("psql", maint, "-qc", "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)").Run() })
	dbURL := withDatabase(t, maint, db)

	addr, ops := freeAddr(t), freeAddr(t)
	var logs bytes.Buffer
	cmd := exec.Command("buildah", "run", "--isolation", "chroot",
		"-e", "DATABASE_URL="+dbURL, "-e", "REDIS_URL="+redisURL,
		"-e", "ADDR="+addr, "-e", "OPS_ADDR="+ops, "-e", "SHUTDOWN_DELAY=1s",
		ctr, "/usr/local/bin/distribution", "serve")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})

	ready := waitFor(t, exited, &logs, "http://"+ops+"/readyz", 90*time.Second)
	for _, want := range []string{`"postgres":"ok"`, `"migrations":"ok"`} {
		if !strings.Contains(ready, want) {
			t.Errorf("/readyz = %s, want %s", ready, want)
		}
	}
	if metrics := get(t, "http://"+ops+"/metrics"); !strings.Contains(metrics, "distribution_build_info{") {
		t.Errorf("ops /metrics lacks distribution_build_info")
	}

	// SIGTERM to the service itself (buildah's own processes would kill it outright): it drains
	// and exits 0, and buildah with it.
	pid := serviceProcess(t, cmd.Process.Pid)
	if uid := procUID(t, pid); uid != "65532" {
		t.Errorf("the service runs as uid %s, want 65532", uid)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Fatalf("serve in the image exited with %v after SIGTERM; output:\n%s", err, logs.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("serve in the image did not exit within 60 s of SIGTERM; output:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "draining") {
		t.Errorf("no drain logged; output:\n%s", logs.String())
	}
}

func run(t *testing.T, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// withDatabase replaces the database of a postgres:// URL.
func withDatabase(t *testing.T, u, db string) string {
	t.Helper()
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		t.Fatalf("TEST_DATABASE_URL %q is not a URL", u)
	}
	host, query := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		host = rest[:i]
		if q := strings.Index(rest, "?"); q >= 0 {
			query = rest[q:]
		}
	}
	return scheme + "://" + host + "/" + db + query
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// waitFor polls url until it answers 200, failing when the process exits first or at the deadline.
func waitFor(t *testing.T, exited chan error, logs *bytes.Buffer, url string, within time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return string(b)
			}
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("serve in the image exited (%v) before %s answered 200; output:\n%s", err, url, logs.String())
		case <-ctx.Done():
			t.Fatalf("%s did not answer 200 within %s; output:\n%s", url, within, logs.String())
		case <-tick.C:
		}
	}
}

// serviceProcess finds the image's process in the session buildah leads (Setsid: sid = its pid).
func serviceProcess(t *testing.T, sid int) int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp session ...
		s := string(stat)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < open {
			continue
		}
		fields := strings.Fields(s[close+1:])
		if len(fields) < 4 || s[open+1:close] != "distribution" {
			continue
		}
		if session, _ := strconv.Atoi(fields[3]); session == sid {
			return pid
		}
	}
	t.Fatalf("no process named distribution in session %d", sid)
	return 0
}

func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "Uid:"); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				return f[0]
			}
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return ""
}
