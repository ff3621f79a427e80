package alerts

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var quiet = slog.New(slog.DiscardHandler)

// The production validator refuses everything but public https targets.
func TestValidateWebhookURL(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{
		"",
		"http://hooks.example.com/services/x",   // https only
		"https://127.0.0.1/hook",                // loopback
		"https://127.0.0.1:8080/hook",           // loopback with a port
		"https://localhost/hook",                // loopback by name
		"https://[::1]/hook",                    // IPv6 loopback
		"https://10.0.0.5/hook",                 // private
		"https://10.255.1.1:8443/hook",          // private
		"https://172.16.0.1/hook",               // private
		"https://192.168.1.10/hook",             // private
		"https://169.254.169.254/latest/meta",   // link-local (cloud metadata)
		"https://[fe80::1]/hook",                // IPv6 link-local
		"https://[::ffff:10.0.0.1]/hook",        // IPv4-mapped private
		"https://0.0.0.0/hook",                  // unspecified
		"https://user:secret@hooks.example.com", // credentials
		"https://hooks.example.com/x#frag",      // fragment
		"ftp://hooks.example.com/x",
		"hooks.example.com/x",
	} {
		if u, err := ValidateWebhookURL(bad, false); err == nil {
			t.Errorf("ValidateWebhookURL(%q) = %q, want an error", bad, u)
		} else if !strings.HasPrefix(err.Error(), "WEBHOOK_URL: ") {
			t.Errorf("error %q does not name WEBHOOK_URL", err)
		}
		if _, err := New(Config{WebhookURL: bad}); err == nil {
			t.Errorf("New accepted %q", bad)
		}
	}
	for raw, want := range map[string]string{
		"https://hooks.slack.com/services/T0/B0/XYZ": "https://hooks.slack.com/services/T0/B0/XYZ",
		"https://example.com/hook?key=abc":           "https://example.com/hook?key=abc",
		"https://93.184.216.34/hook/":                "https://93.184.216.34/hook",
	} {
		if got, err := ValidateWebhookURL(raw, false); err != nil || got != want {
			t.Errorf("ValidateWebhookURL(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	// The test-only switch admits a loopback http receiver, nothing private.
	if _, err := ValidateWebhookURL("http://127.0.0.1:9/x", true); err != nil {
		t.Errorf("insecure loopback: %v", err)
	}
	if _, err := ValidateWebhookURL("http://10.0.0.1/x", true); err == nil {
		t.Error("insecure loopback admitted a private address")
	}
	if _, err := New(Config{WebhookURL: "https://example.com/x", PublicURL: "javascript:alert(1)"}); err == nil ||
		!strings.HasPrefix(err.Error(), "PUBLIC_URL: ") {
		t.Errorf("bad PUBLIC_URL: %v", err)
	}
}

// The connection itself is refused for loopback targets even if a URL got past validation (e.g. a
// public name that resolves to 127.0.0.1): the dialer checks the resolved address.
func TestDialRefusesLoopback(t *testing.T) {
	t.Parallel()
	hits := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	t.Cleanup(ts.Close)
	n, err := New(Config{WebhookURL: "https://hooks.example.com/x", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	n.url = ts.URL // as if hooks.example.com resolved to 127.0.0.1
	_, err = n.post(context.Background(), []byte(`{}`))
	if err == nil || !strings.Contains(err.Error(), "refused to connect") || !strings.Contains(err.Error(), "loopback") {
		t.Fatalf("post to loopback: %v", err)
	}
	if hits != 0 {
		t.Fatal("the receiver was reached")
	}
}

func TestFor(t *testing.T) {
	t.Parallel()
	msg := "failed after 3 attempts: boom"
	failed := model.ChannelState{EventID: "ev", Channel: model.ChannelKakao, Status: model.StatusFailed, Generation: 2, ErrorMessage: &msg}
	ok := model.ChannelState{EventID: "ev", Channel: model.ChannelNaver, Status: model.StatusSuccess, Generation: 1}
	running := model.ChannelState{EventID: "ev", Channel: model.ChannelNaver, Status: model.StatusInProgress, Generation: 1}
	dist := func(s model.OverallStatus) model.Distribution {
		return model.Distribution{EventID: "ev", OverallStatus: s}
	}
	for _, tc := range []struct {
		name string
		ch   model.ChannelState
		prev model.OverallStatus
		d    model.Distribution
		want *Args
	}{
		{"channel failed, others running", failed, model.OverallInProgress, dist(model.OverallInProgress),
			&Args{EventID: "ev", Channel: model.ChannelKakao, Generation: 2, ChannelFailed: true, Error: msg}},
		{"last channel failed", failed, model.OverallInProgress, dist(model.OverallFailed),
			&Args{EventID: "ev", Channel: model.ChannelKakao, Generation: 2, ChannelFailed: true, Overall: model.OverallFailed, Error: msg}},
		{"last channel succeeded after a failure", ok, model.OverallInProgress, dist(model.OverallPartialSuccess),
			&Args{EventID: "ev", Channel: model.ChannelNaver, Generation: 1, Overall: model.OverallPartialSuccess}},
		{"success, completed", ok, model.OverallInProgress, dist(model.OverallCompleted), nil},
		{"success, still running", ok, model.OverallInProgress, dist(model.OverallInProgress), nil},
		{"retry attempt recorded", running, model.OverallInProgress, dist(model.OverallInProgress), nil},
	} {
		got, has := For(tc.ch, tc.prev, tc.d)
		if (tc.want == nil) != !has || (tc.want != nil && got != *tc.want) {
			t.Errorf("%s: For = %+v %v, want %+v", tc.name, got, has, tc.want)
		}
	}
}

func TestMessage(t *testing.T) {
	t.Parallel()
	n, err := New(Config{WebhookURL: "https://hooks.example.com/x", PublicURL: "https://dist.example.com/base/"})
	if err != nil {
		t.Fatal(err)
	}
	m := n.Message(Args{EventID: "spring-1", Channel: model.ChannelKakao, ChannelFailed: true, Overall: model.OverallFailed,
		Error: "token <expired> & revoked"}, "<!channel> 봄 세일 <https://evil|click>")
	wantLink := "https://dist.example.com/base/events/spring-1#ch-spring-1-KAKAO"
	if len(m.Blocks) != 2 || m.Blocks[1].Elements[0].URL != wantLink {
		t.Fatalf("blocks %+v", m.Blocks)
	}
	s := m.Text + "\n" + m.Blocks[0].Text.Text
	for _, want := range []string{"Distribution FAILED", "봄 세일", "카카오톡 채널", "token &lt;expired&gt; &amp; revoked", wantLink, "<" + wantLink + "|Open in the dashboard>"} {
		if !strings.Contains(s, want) {
			t.Errorf("message lacks %q: %s", want, s)
		}
	}
	for _, bad := range []string{"<!channel>", "<https://evil|click>"} {
		if strings.Contains(m.Text, bad) || strings.Contains(m.Blocks[0].Text.Text, bad) {
			t.Errorf("untrusted %q reaches the message unescaped", bad)
		}
	}
}

// receiver is a local webhook that fails its first failFirst calls with 503.
type receiver struct {
	mu        sync.Mutex
	failFirst int
	calls     int
	bodies    []string
	done      chan struct{}
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	r.bodies = append(r.bodies, string(b))
	if req.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	if r.calls <= r.failFirst {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
	select {
	case <-r.done:
	default:
		close(r.done)
	}
}

type titles map[string]string

func (t titles) FindEventByID(_ context.Context, id string) (model.Event, error) {
	return model.Event{ID: id, Title: t[id]}, nil
}

// TestDeliveryRetries delivers through a real River client: the receiver fails twice, the third
// POST succeeds and the job completes; the same alert enqueued again is skipped as a duplicate.
func TestDeliveryRetries(t *testing.T) {
	t.Parallel()
	rec := &receiver{failFirst: 2, done: make(chan struct{})}
	ts := httptest.NewServer(rec)
	t.Cleanup(ts.Close)
	n, err := New(Config{WebhookURL: ts.URL + "/hook", PublicURL: "https://dist.example.com", RetryBase: 10 * time.Millisecond,
		RetryMax: 50 * time.Millisecond, Timeout: 2 * time.Second, Events: titles{"ev9": "가을 세일"}, Logger: quiet,
		AllowInsecureLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	d := dbtest.New(t)
	workers := river.NewWorkers()
	if err := n.Register(workers); err != nil {
		t.Fatal(err)
	}
	client, err := river.NewClient(riverpgxv5.New(d.Pool), &river.Config{
		Logger: quiet, Queues: map[string]river.QueueConfig{Queue: {MaxWorkers: 1}}, Workers: workers,
		FetchPollInterval: 20 * time.Millisecond, FetchCooldown: 10 * time.Millisecond, TestOnly: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := client.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		client.Stop(sctx) //nolint:errcheck
	})
	args := Args{EventID: "ev9", Channel: model.ChannelNaver, Generation: 1, ChannelFailed: true, Error: "image rejected"}
	res, err := client.Insert(ctx, args, nil)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("not delivered; %d calls", rec.calls)
	}
	var j *rivertype.JobRow
	testkit.EventuallyErr(t, 10*time.Second, "the alert job completed", func() error {
		if j, err = client.JobGet(ctx, res.Job.ID); err != nil {
			t.Fatal(err)
		}
		if j.State != rivertype.JobStateCompleted {
			return errors.New("job state " + string(j.State))
		}
		return nil
	})
	if j.Attempt != 3 {
		t.Errorf("completed on attempt %d, want 3", j.Attempt)
	}
	rec.mu.Lock()
	calls, last := rec.calls, rec.bodies[len(rec.bodies)-1]
	rec.mu.Unlock()
	if calls != 3 {
		t.Errorf("%d POSTs, want 3", calls)
	}
	var m Message
	if err := json.Unmarshal([]byte(last), &m); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(m.Text, "가을 세일 (ev9)") || !strings.Contains(m.Text, "https://dist.example.com/events/ev9#ch-ev9-NAVER") ||
		!strings.Contains(m.Text, "image rejected") || len(m.Blocks) != 2 {
		t.Errorf("delivered %s", last)
	}
	again, err := client.Insert(ctx, args, nil)
	if err != nil || !again.UniqueSkippedAsDuplicate {
		t.Errorf("a second identical alert was not skipped: %+v %v", again, err)
	}
}

// A webhook that redirects is not followed, and the alert is not retried.
func TestNoRedirects(t *testing.T) {
	t.Parallel()
	var target, hook int
	tgt := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { target++ }))
	t.Cleanup(tgt.Close)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hook++
		http.Redirect(w, r, tgt.URL, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(ts.Close)
	n, err := New(Config{WebhookURL: ts.URL, Logger: quiet, AllowInsecureLoopback: true})
	if err != nil {
		t.Fatal(err)
	}
	err = n.Work(context.Background(), &river.Job[Args]{JobRow: &rivertype.JobRow{Attempt: 1}, Args: Args{EventID: "e", Channel: model.ChannelKakao, ChannelFailed: true}})
	var cancel *river.JobCancelError
	if err == nil || !errorsAs(err, &cancel) {
		t.Errorf("redirect answer: %v, want a cancelled job", err)
	}
	if hook != 1 || target != 0 {
		t.Errorf("hook %d target %d: the redirect was followed", hook, target)
	}
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
