package deploy_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/deploy"
)

type instruction struct {
	cmd  string // upper case
	args string
}

type stage struct {
	from, name string
	ins        []instruction
}

// parseDockerfile splits a Dockerfile into stages of instructions (comments dropped,
// continuation lines joined).
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	var cur strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		tl := strings.TrimSpace(l)
		if strings.HasPrefix(tl, "#") || (tl == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(tl, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(tl)
		lines = append(lines, cur.String())
		cur.Reset()
	}
	var stages []stage
	for _, l := range lines {
		cmd, args, _ := strings.Cut(l, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			f := strings.Fields(in.args)
			st := stage{from: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				st.name = f[2]
			}
			stages = append(stages, st)
			continue
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Fatalf("%s before the first FROM", in.cmd)
			}
			continue
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages
}

func (s stage) all(cmd string) []string {
	var out []string
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in.args)
		}
	}
	return out
}

// TestDockerfile: multi-stage; the build stage runs `make build` with cgo off and assembles the
// runtime files with rootfs.sh; the final stage is scratch (or distroless) holding only those
// files, runs as a numeric non-root user, exposes the ports the chart uses and starts the
// binary with `serve`, so the chart's args [serve] and [migrate] reach it.
func TestDockerfile(t *testing.T) {
	stages := parseDockerfile(t, "Dockerfile")
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a build and a runtime stage", len(stages))
	}
	final := stages[len(stages)-1]
	if final.from != "scratch" && !strings.HasPrefix(final.from, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %s, want scratch or distroless static", final.from)
	}
	if final.name != "runtime" {
		t.Errorf("final stage named %q, want runtime (make image-local cuts it out by that name)", final.name)
	}
	if runs := final.all("RUN"); len(runs) != 0 {
		t.Errorf("final stage RUNs %v: scratch has no shell", runs)
	}
	var build *stage
	for i := range stages {
		if stages[i].name == "build" {
			build = &stages[i]
		}
	}
	if build == nil {
		t.Fatal("no build stage")
	}
	runs := strings.Join(build.all("RUN"), "\n")
	if !regexp.MustCompile(`CGO_ENABLED=0 make build\b`).MatchString(runs) || !strings.Contains(runs, "deploy/rootfs.sh bin/distribution /rootfs") {
		t.Errorf("build stage RUNs %q: want CGO_ENABLED=0 make build and deploy/rootfs.sh", runs)
	}
	if copies := final.all("COPY"); !slices.Equal(copies, []string{"--from=build /rootfs/ /"}) {
		t.Errorf("final stage COPYs %v, want only --from=build /rootfs/ /", copies)
	}

	users := final.all("USER")
	if len(users) != 1 {
		t.Fatalf("final stage USER %v, want one", users)
	}
	uid, gid, _ := strings.Cut(users[0], ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q: want a numeric non-root uid (runAsNonRoot cannot check a name)", users[0])
	}
	if n, err := strconv.Atoi(gid); gid != "" && (err != nil || n == 0) {
		t.Errorf("USER %q: want a numeric non-root gid", users[0])
	}
	// The chart's pod runs as the same user the image declares.
	vals, err := deploy.LoadValues("chart/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	psc := vals["podSecurityContext"].(map[string]any)
	if strconv.Itoa(int(psc["runAsUser"].(float64))) != uid {
		t.Errorf("chart runAsUser %v, image USER %s", psc["runAsUser"], uid)
	}

	ports := vals["ports"].(map[string]any)
	want := []string{strconv.Itoa(int(ports["http"].(float64))), strconv.Itoa(int(ports["ops"].(float64)))}
	if got := strings.Fields(strings.Join(final.all("EXPOSE"), " ")); !slices.Equal(got, want) {
		t.Errorf("EXPOSE %v, want the chart's http and ops ports %v", got, want)
	}
	env := strings.Join(final.all("ENV"), " ")
	for _, kv := range []string{"ADDR=:" + want[0], "OPS_ADDR=:" + want[1]} {
		if !slices.Contains(strings.Fields(env), kv) {
			t.Errorf("ENV %q lacks %s", env, kv)
		}
	}

	var entry, cmd []string
	for name, dst := range map[string]*[]string{"ENTRYPOINT": &entry, "CMD": &cmd} {
		v := final.all(name)
		if len(v) != 1 || json.Unmarshal([]byte(v[0]), dst) != nil {
			t.Fatalf("%s %v: want one exec-form (JSON) %s", name, v, name)
		}
	}
	if !slices.Equal(entry, []string{"/usr/local/bin/distribution"}) || !slices.Equal(cmd, []string{"serve"}) {
		t.Errorf("ENTRYPOINT %v CMD %v, want the binary and serve", entry, cmd)
	}
}

// TestDockerignore: the build context leaves out what builds and tests leave behind (the
// image build regenerates it) and the git history. The file sits beside the Dockerfile as
// Dockerfile.dockerignore, which BuildKit reads for `-f deploy/Dockerfile` and which keeps the
// repository's root to the design card's names. With BuildKit, `docker build -f X` reads
// X.dockerignore before .dockerignore: docs.docker.com/reference/cli/docker/buildx/build (docker/cli
// docs/reference/commandline/build.md, "relative to the Dockerfile name").
func TestDockerignore(t *testing.T) {
	b, err := os.ReadFile("Dockerfile.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	for _, p := range []string{".git", ".local", "bin", "node_modules", "static/dist", "**/*_templ.go"} {
		if !slices.Contains(lines, p) {
			t.Errorf("Dockerfile.dockerignore lacks %s", p)
		}
	}
}

// TestMakeImageLocal: `make image-local` builds exactly the Dockerfile's runtime stage, with the
// rootfs read from its own context: the Makefile's cut finds the stage and the COPY it rewrites.
func TestMakeImageLocal(t *testing.T) {
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"sed -n '/^FROM scratch AS runtime/,$$p' deploy/Dockerfile", "sed 's#^COPY --from=build /rootfs/ /#COPY rootfs/ /#'", "deploy/rootfs.sh $(BIN) .local/image/rootfs"} {
		if !strings.Contains(string(mk), s) {
			t.Errorf("Makefile image-local lacks %q", s)
		}
	}
	for _, line := range []string{"FROM scratch AS runtime", "COPY --from=build /rootfs/ /"} {
		if !slices.Contains(strings.Split(string(df), "\n"), line) {
			t.Errorf("Dockerfile lacks the line %q that make image-local relies on", line)
		}
	}
}

// TestRootfs: deploy/rootfs.sh, which both image builds use, lays out a static binary, the CA
// bundle, a time zone database in which Asia/Seoul loads, and a world-writable sticky /tmp; it
// refuses a dynamically linked binary (scratch has no loader).
func TestRootfs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "static")
	build := exec.Command("go", "build", "-o", bin, src)
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
	build.Dir = dir
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	root := filepath.Join(dir, "rootfs")
	if out, err := exec.Command("./rootfs.sh", bin, root).CombinedOutput(); err != nil {
		t.Fatalf("rootfs.sh: %v\n%s", err, out)
	}
	for path, mode := range map[string]os.FileMode{
		"usr/local/bin/distribution":        0o755,
		"etc/ssl/certs/ca-certificates.crt": 0o644,
		"usr/share/zoneinfo/Asia/Seoul":     0,
		"etc/passwd":                        0,
		"tmp":                               os.ModeDir | os.ModeSticky | 0o777,
	} {
		fi, err := os.Stat(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			continue
		}
		if mode != 0 && fi.Mode()&(os.ModeDir|os.ModeSticky|os.ModePerm) != mode {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), mode)
		}
	}
	tz, err := os.ReadFile(filepath.Join(root, "usr/share/zoneinfo/Asia/Seoul"))
	if err != nil {
		t.Fatal(err)
	}
	seoul, err := time.LoadLocationFromTZData("Asia/Seoul", tz)
	if err != nil {
		t.Fatalf("Asia/Seoul in the image's zoneinfo: %v", err)
	}
	if _, off := time.Date(2026, 12, 5, 0, 0, 0, 0, seoul).Zone(); off != 9*3600 {
		t.Errorf("Asia/Seoul offset %ds, want +9h", off)
	}
	if ca, _ := os.ReadFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt")); !strings.Contains(string(ca), "BEGIN CERTIFICATE") {
		t.Error("CA bundle holds no certificate")
	}

	// A dynamically linked binary (the go tool's own cgo-free build is static; the shell is not).
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	sh, _ = filepath.EvalSymlinks(sh)
	out, err := exec.Command("./rootfs.sh", sh, filepath.Join(dir, "dyn")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "dynamically linked") {
		t.Errorf("rootfs.sh on %s: %v %s, want a refusal naming dynamic linking", sh, err, out)
	}
}
