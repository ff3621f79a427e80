package channels

// One file on purpose: every case runs the adapters against a simulator (startSim) on a fake clock,
// so the protocol behaviours read as one specification.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSim serves a simulator (1 ms steps unless cfg says otherwise) for the test.
func startSim(t testing.TB, cfg simulator.Config) (*simulator.Server, string) {
	t.Helper()
	if cfg.Step == 0 {
		cfg.Step = time.Millisecond
	}
	s := simulator.New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close)
	return s, ts.URL
}

// fastOpts are test options: quick polls, short bounds.
func fastOpts() Options {
	return Options{PollInterval: time.Millisecond, RequestTimeout: 5 * time.Second, MaxPublishTime: 20 * time.Second}
}

// newSimRegistry builds a fresh registry (own transport, so the first request of a test is on a
// fresh connection and the transport never replays it).
func newSimRegistry(t testing.TB, base string, opts Options) *Registry {
	t.Helper()
	r := NewSimulatorRegistry(base, opts)
	t.Cleanup(r.Close)
	return r
}

func request(eventID string, ch model.Channel, key string) Request {
	return Request{
		EventID: eventID, Channel: ch, Title: "봄맞이 세일 🌸", Description: "전 품목 20% 할인",
		ImageURL: "https://img.example.com/spring.png", StoreName: "우리동네 빵집", IdempotencyKey: key,
	}
}

// progressLog records progress calls and checks they only increase.
type progressLog struct {
	mu   sync.Mutex
	vals []int
}

func (p *progressLog) fn(pct int) { p.mu.Lock(); p.vals = append(p.vals, pct); p.mu.Unlock() }

func (p *progressLog) check(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, v := range p.vals {
		if v < 1 || v > 100 || (i > 0 && v <= p.vals[i-1]) {
			t.Fatalf("progress not strictly increasing within 1..100: %v", p.vals)
		}
	}
	if len(p.vals) == 0 || p.vals[len(p.vals)-1] != 100 {
		t.Fatalf("progress did not reach 100: %v", p.vals)
	}
}

func asError(t *testing.T, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *channels.Error", err, err)
	}
	return e
}

func wantErr(t *testing.T, err error, kind ErrorKind, msgPart string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %s error containing %q, got success", kind, msgPart)
	}
	e := asError(t, err)
	if e.Kind != kind || !strings.Contains(e.Message, msgPart) {
		t.Fatalf("error = %s %q (%s); want %s containing %q", e.Kind, e.Message, e.Detail, kind, msgPart)
	}
	return e
}

func TestPublishEveryChannel(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{Step: 2 * time.Millisecond})
	reg := newSimRegistry(t, base, fastOpts())
	for _, ch := range model.AllChannels {
		t.Run(string(ch), func(t *testing.T) {
			t.Parallel()
			var log progressLog
			res, err := reg.Adapter(ch).Publish(context.Background(), request("evt-all", ch, "d1:"+string(ch)+":0"), log.fn)
			if err != nil {
				t.Fatalf("Publish: %v", err)
			}
			log.check(t)
			f := FieldsOf(ch)
			want := simulator.ResultFor("evt-all", ch, time.Now())
			checks := []struct {
				need bool
				got  string
				exp  string
			}{
				{f.DistributionID, res.DistributionID, want.DistributionID},
				{f.PostID, res.PostID, want.PostID},
				{f.PostURL, res.PostURL, want.PostURL},
				{f.MessageID, res.MessageID, want.MessageID},
			}
			for _, c := range checks {
				if c.need != (c.got != "") || c.got != c.exp {
					t.Errorf("field: got %q, want %q (required %v)", c.got, c.exp, c.need)
				}
			}
			if res.EstimatedViews != want.EstimatedViews || res.EstimatedViews <= 0 {
				t.Errorf("estimatedViews %d, want %d", res.EstimatedViews, want.EstimatedViews)
			}
			if f.ImpressionSchedule != (len(res.ImpressionSchedule) >= 3) {
				t.Errorf("impression schedule %v", res.ImpressionSchedule)
			}
			if sim.Posts(ch, "evt-all") != 1 {
				t.Errorf("posts = %d", sim.Posts(ch, "evt-all"))
			}
		})
	}
}

func TestHangTimesOutAsTemporary(t *testing.T) {
	t.Parallel()
	for _, fault := range []simulator.Fault{simulator.Hang(), simulator.Hang().OnPoll()} {
		t.Run(string(fault.On), func(t *testing.T) {
			t.Parallel()
			sim, base := startSim(t, simulator.Config{Step: time.Hour})
			sim.MustInject(model.ChannelNaver, fault)
			opts := Options{PollInterval: time.Millisecond, RequestTimeout: 200 * time.Millisecond, PollRetries: -1}
			start := time.Now()
			_, err := newSimRegistry(t, base, opts).Adapter(model.ChannelNaver).Publish(context.Background(), request("e", model.ChannelNaver, "k"), nil)
			wantErr(t, err, Temporary, "did not answer in time")
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("hang took %s, want about the 200ms request bound", d)
			}
		})
	}
}

func TestServerErrorIsTemporary(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelKakao, simulator.Status(503, "maintenance"))
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	e := wantErr(t, err, Temporary, "the channel is having problems (HTTP 503)")
	if e.HTTPStatus != 503 || !strings.Contains(e.Detail, "maintenance") {
		t.Errorf("status %d detail %q", e.HTTPStatus, e.Detail)
	}
}

func TestSimulatorFailThenSucceed(t *testing.T) {
	t.Parallel()
	rules, _ := simulator.ParseFail("KAKAO=2")
	sim, base := startSim(t, simulator.Config{Fail: rules})
	a := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelKakao)
	for i := range 2 {
		_, err := a.Publish(context.Background(), request("evt-n", model.ChannelKakao, "gen0"), nil)
		wantErr(t, err, Temporary, "HTTP 503")
		_ = i
	}
	if _, err := a.Publish(context.Background(), request("evt-n", model.ChannelKakao, "gen1"), nil); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	if sim.Posts(model.ChannelKakao, "evt-n") != 1 {
		t.Error("want one post")
	}
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelInstagram, simulator.RateLimit("7"), simulator.RateLimit(""), simulator.RateLimit("7").OnPoll())
	a := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelInstagram)
	_, err := a.Publish(context.Background(), request("e", model.ChannelInstagram, "k"), nil)
	if e := wantErr(t, err, RateLimited, "rate limiting"); e.RetryAfter != 7*time.Second || e.HTTPStatus != 429 {
		t.Errorf("RetryAfter %s status %d, want 7s 429", e.RetryAfter, e.HTTPStatus)
	}
	_, err = a.Publish(context.Background(), request("e", model.ChannelInstagram, "k"), nil)
	if e := wantErr(t, err, RateLimited, "rate limiting"); e.RetryAfter != 30*time.Second {
		t.Errorf("default RetryAfter %s, want 30s", e.RetryAfter)
	}
	// A 429 on a status poll is handed to the engine too (it resubmits with the same key later).
	_, err = a.Publish(context.Background(), request("e", model.ChannelInstagram, "k"), nil)
	wantErr(t, err, RateLimited, "rate limiting")
	if _, err := a.Publish(context.Background(), request("e", model.ChannelInstagram, "k"), nil); err != nil {
		t.Fatalf("after the 429s: %v", err)
	}
	if sim.Posts(model.ChannelInstagram, "e") != 1 {
		t.Errorf("posts = %d, want 1", sim.Posts(model.ChannelInstagram, "e"))
	}
}

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)
	cases := []struct {
		in   string
		want time.Duration
	}{
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"", 30 * time.Second},
		{"soon", 30 * time.Second},
		{"-5", 30 * time.Second},
		{"0", time.Second},
		{"99999999999999999999", 30 * time.Second},
		{"86400", 10 * time.Minute},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), time.Second},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), 10 * time.Minute},
	}
	for _, tc := range cases {
		if got := retryAfter(tc.in, now); got != tc.want {
			t.Errorf("retryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestRejectionIsPermanentWithTheMessage(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelNaver, simulator.Reject("image rejected: 이미지 크기가 너무 작습니다\n"+strings.Repeat("x", 500)))
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelNaver).Publish(context.Background(), request("e", model.ChannelNaver, "k"), nil)
	e := wantErr(t, err, Permanent, "the channel rejected the post: image rejected: 이미지 크기가 너무 작습니다 xxx")
	if e.HTTPStatus != 400 || len([]rune(e.Message)) > 260 || strings.ContainsAny(e.Message, "\n\r") {
		t.Errorf("status %d, message %q not truncated/sanitised", e.HTTPStatus, e.Message)
	}
}

func TestConnectionResetIsTemporary(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelGiniTV, simulator.Reset())
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelGiniTV).Publish(context.Background(), request("e", model.ChannelGiniTV, "k"), nil)
	wantErr(t, err, Temporary, "the connection to the channel was interrupted")
}

func TestHugeBodyIsNotReadWhole(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelRingoBiz, simulator.HugeBody(0))
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelRingoBiz).Publish(context.Background(), request("e", model.ChannelRingoBiz, "k"), nil)
	wantErr(t, err, Temporary, "too large")

	// An endless body proves the read is bounded: reading it whole would never return.
	var served atomic.Int64
	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusAccepted)
		chunk := []byte(`{"id":"` + strings.Repeat("z", 64<<10))
		for {
			n, err := w.Write(chunk)
			served.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(endless.Close)
	reg := newSimRegistry(t, endless.URL, fastOpts())
	_, err = reg.Adapter(model.ChannelRingoBiz).Publish(context.Background(), request("e", model.ChannelRingoBiz, "k"), nil)
	wantErr(t, err, Temporary, "too large")
	reg.Close()
}

func TestRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	t.Cleanup(target.Close)
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelKakao, simulator.Redirect(target.URL+"/steal"))
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	e := wantErr(t, err, Permanent, "redirected")
	if e.HTTPStatus != http.StatusFound || hits.Load() != 0 {
		t.Errorf("status %d, target hits %d; want 302 and 0", e.HTTPStatus, hits.Load())
	}
}

func TestLostResponseThenRetryMakesOnePost(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelInstagram, simulator.LoseResponse())
	req := request("evt-lost", model.ChannelInstagram, "dist-9:INSTAGRAM:0")

	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelInstagram).Publish(context.Background(), req, nil)
	wantErr(t, err, Temporary, "interrupted")
	if sim.Posts(model.ChannelInstagram, "evt-lost") != 1 {
		t.Fatal("the lost submit should have created the post")
	}
	// The engine retries with the same key: same post, no second one.
	res, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelInstagram).Publish(context.Background(), req, nil)
	if err != nil {
		t.Fatalf("retry: %v", err)
	}
	if n := sim.Posts(model.ChannelInstagram, "evt-lost"); n != 1 {
		t.Errorf("posts = %d, want exactly 1", n)
	}
	if res.PostURL == "" || res.PostID == "" {
		t.Errorf("result %+v", res)
	}
}

func TestFailedPublication(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelNaver, simulator.FailPublication("the blog is suspended", false), simulator.FailPublication("try later", true))
	a := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelNaver)
	_, err := a.Publish(context.Background(), request("e1", model.ChannelNaver, "k1"), nil)
	wantErr(t, err, Permanent, "could not publish the post: the blog is suspended")
	_, err = a.Publish(context.Background(), request("e2", model.ChannelNaver, "k2"), nil)
	wantErr(t, err, Temporary, "could not publish the post: try later")
}

func TestTransientPollFailuresAreRetried(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{Step: time.Hour}) // stays IN_PROGRESS while the faults play
	sim.MustInject(model.ChannelKakao, simulator.Status(502, "").OnPoll(), simulator.Reset().OnPoll(), simulator.Status(503, "").OnPoll())
	opts := fastOpts()
	opts.MaxPublishTime = 300 * time.Millisecond
	a := newSimRegistry(t, base, opts).Adapter(model.ChannelKakao)
	_, err := a.Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	// Three transient poll failures are tolerated; the publication then outlives MaxPublishTime.
	wantErr(t, err, Temporary, "did not finish the publication in time")
	if st := sim.Stats(model.ChannelKakao); st.Polls < 4 {
		t.Errorf("polls = %d, want the failures retried", st.Polls)
	}

	// A fourth failure in a row is the error, however long it takes to happen: a simulator of
	// its own (no fault left over from above) and a generous MaxPublishTime (on a loaded machine
	// four polls can outlast 300 ms).
	sim, base = startSim(t, simulator.Config{Step: time.Hour})
	sim.MustInject(model.ChannelKakao, simulator.Status(502, "").OnPoll(), simulator.Status(502, "").OnPoll(),
		simulator.Status(502, "").OnPoll(), simulator.Status(502, "").OnPoll())
	opts.MaxPublishTime = time.Minute
	a = newSimRegistry(t, base, opts).Adapter(model.ChannelKakao)
	_, err = a.Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	wantErr(t, err, Temporary, "HTTP 502")
}

func TestCallerCancellation(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{Step: time.Hour}) // stays IN_PROGRESS
	reg := newSimRegistry(t, base, Options{PollInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := reg.Adapter(model.ChannelGiniTV).Publish(ctx, request("e", model.ChannelGiniTV, "k"), nil)
		done <- err
	}()
	testkit.Eventually(t, 5*time.Second, "the adapter polling GiniTV", func() bool { return sim.Stats(model.ChannelGiniTV).Polls > 0 })
	cancel()
	err := <-done
	wantErr(t, err, Temporary, "interrupted")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("errors.Is(err, context.Canceled) = false for %v", err)
	}
}

func TestPublishTimeBound(t *testing.T) {
	t.Parallel()
	_, base := startSim(t, simulator.Config{Step: time.Hour})
	opts := fastOpts()
	opts.MaxPublishTime = 50 * time.Millisecond
	_, err := newSimRegistry(t, base, opts).Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	wantErr(t, err, Temporary, "did not finish the publication in time")
}

// fakeChannel serves a fixed status answer, for result-mapping cases the simulator never produces.
func fakeChannel(t *testing.T, status string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"id":"p1","status":"IN_PROGRESS","progress":0}`)
			return
		}
		io.WriteString(w, status)
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestResultMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		ch     model.Channel
		status string
		kind   ErrorKind
		msg    string
	}{
		{"missing postUrl", model.ChannelInstagram, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"postId":"1","estimatedViews":5}}`, Permanent, "incomplete result"},
		{"missing views", model.ChannelKakao, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"messageId":"m"}}`, Permanent, "incomplete result"},
		{"missing schedule", model.ChannelGiniTV, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"distributionId":"G","estimatedViews":5}}`, Permanent, "incomplete result"},
		{"no result", model.ChannelRingoBiz, `{"id":"p1","status":"SUCCESS","progress":100}`, Permanent, "incomplete result"},
		{"non-https post url", model.ChannelNaver, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"postId":"1","postUrl":"javascript:alert(1)","estimatedViews":5}}`, Permanent, "invalid result"},
		{"bad slot", model.ChannelUridongneTV, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"distributionId":"U","estimatedViews":5,"impressionSchedule":[{"start":"tomorrow","end":"x","slot":"prime","spots":1}]}}`, Permanent, "invalid result"},
		{"negative views", model.ChannelKakao, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"messageId":"m","estimatedViews":-1}}`, Permanent, "invalid result"},
		{"long id", model.ChannelKakao, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"messageId":"` + strings.Repeat("m", 101) + `","estimatedViews":1}}`, Permanent, "invalid result"},
		// Line breaks in a result would reach pages and SSE streams: refused like any invalid id.
		{"CR in message id", model.ChannelKakao, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"messageId":"m\revent: datastar-patch-signals","estimatedViews":1}}`, Permanent, "invalid result"},
		{"CRLF in post id", model.ChannelInstagram, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"postId":"1\r\ndata: x","postUrl":"https://x.example/p","estimatedViews":1}}`, Permanent, "invalid result"},
		{"CR in post url", model.ChannelNaver, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"postId":"1","postUrl":"https://x.example/p\rdata: x","estimatedViews":5}}`, Permanent, "invalid result"},
		{"LF in slot", model.ChannelGiniTV, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"distributionId":"G","estimatedViews":5,"impressionSchedule":[{"start":"2026-01-01T00:00:00Z","end":"2026-01-01T01:00:00Z","slot":"prime\nevent: x","spots":1}]}}`, Permanent, "invalid result"},
		{"unknown status", model.ChannelKakao, `{"id":"p1","status":"DONE","progress":100}`, Temporary, "unreadable"},
		{"not JSON", model.ChannelKakao, `<html>oops</html>`, Temporary, "unreadable"},
		{"gone", model.ChannelKakao, `{"id":"p1","status":"FAILED","progress":40}`, Permanent, "could not publish the post"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := newSimRegistry(t, fakeChannel(t, tc.status), Options{PollInterval: time.Millisecond, PollRetries: -1})
			_, err := reg.Adapter(tc.ch).Publish(context.Background(), request("e", tc.ch, "k"), nil)
			wantErr(t, err, tc.kind, tc.msg)
		})
	}

	// Extra fields a channel does not define are dropped.
	reg := newSimRegistry(t, fakeChannel(t, `{"id":"p1","status":"SUCCESS","progress":100,"result":{"messageId":"m1","estimatedViews":9,"postUrl":"https://x.example/","distributionId":"D"}}`), fastOpts())
	res, err := reg.Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	if err != nil || res.MessageID != "m1" || res.EstimatedViews != 9 || res.PostURL != "" || res.DistributionID != "" {
		t.Errorf("res %+v err %v", res, err)
	}
}

func TestPollNotFoundIsTemporary(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusAccepted)
			io.WriteString(w, `{"id":"p/../1","status":"IN_PROGRESS","progress":0}`)
			return
		}
		if r.URL.EscapedPath() != "/v1/channels/KAKAO/publications/p%2F..%2F1" {
			t.Errorf("publication id not escaped: %s", r.URL.EscapedPath())
		}
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"code":"not_found","message":"no such publication"}}`)
	}))
	t.Cleanup(ts.Close)
	_, err := newSimRegistry(t, ts.URL, fastOpts()).Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	wantErr(t, err, Temporary, "lost track")
}

func TestForbiddenAddresses(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"127.0.0.1": "loopback", "::1": "loopback", "::ffff:127.0.0.1": "loopback",
		"10.1.2.3": "private", "172.16.0.1": "private", "192.168.1.1": "private", "fd00::1": "private",
		"169.254.169.254": "link-local", "fe80::1": "link-local", "0.0.0.0": "unspecified", "::": "unspecified",
		"100.64.0.1": "carrier-grade NAT", "239.1.1.1": "multicast", "224.0.0.1": "link-local", "255.255.255.255": "broadcast",
		"64:ff9b::a9fe:a9fe": "link-local", "2002:0a00:0001::": "private", "::a00:1": "IPv4-compatible",
		"93.184.216.34": "", "2606:2800:220:1:248:1893:25c8:1946": "", "64:ff9b::5db8:d822": "",
	}
	for in, want := range cases {
		if got := forbiddenAddr(netip.MustParseAddr(in), false); got != want {
			t.Errorf("forbiddenAddr(%s) = %q, want %q", in, got, want)
		}
	}
	if got := forbiddenAddr(netip.MustParseAddr("127.0.0.1"), true); got != "" {
		t.Errorf("loopback allowed: got %q", got)
	}
	if got := forbiddenAddr(netip.MustParseAddr("10.0.0.1"), true); got != "private" {
		t.Errorf("simulator mode must still refuse private addresses, got %q", got)
	}
}

// TestDialerRefusesPrivateAddresses checks the connect-time guard itself: endpoints that got
// past validation (as a DNS name resolving to such an address would) are still refused.
func TestDialerRefusesPrivateAddresses(t *testing.T) {
	t.Parallel()
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	for _, target := range []string{ts.URL, "https://localhost:" + ts.URL[strings.LastIndex(ts.URL, ":")+1:], "https://10.1.2.3:443", "https://169.254.169.254"} {
		reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelKakao: {URL: "https://kakao.example.com"}}, Options{DialTimeout: 500 * time.Millisecond})
		reg.adapters[model.ChannelKakao].base = target // bypass validation to reach the dialer
		start := time.Now()
		_, err := reg.Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
		reg.Close()
		e := wantErr(t, err, Permanent, "private or local network address")
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: refusal took %s", target, time.Since(start))
		}
		t.Logf("%s: %s", target, e.Detail)
	}
	if conns.Load() != 0 {
		t.Errorf("the loopback server saw %d connections, want 0", conns.Load())
	}
	// Validation catches literal addresses before any dial.
	for _, ep := range []string{"https://127.0.0.1:8443", "https://10.0.0.8", "http://kakao.example.com", "https://169.254.169.254/"} {
		reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelKakao: {URL: ep}}, Options{})
		_, err := reg.Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
		wantErr(t, err, Permanent, "misconfigured")
		reg.Close()
	}
}

func TestUnconfiguredChannelAndMissingKey(t *testing.T) {
	t.Parallel()
	reg := NewRegistry(map[model.Channel]Endpoint{}, Options{})
	defer reg.Close()
	_, err := reg.Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	wantErr(t, err, Permanent, "not configured")
	_, base := startSim(t, simulator.Config{})
	_, err = newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, ""), nil)
	wantErr(t, err, Permanent, "idempotency key")
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	sf := secretFile(t, testSecret)
	p := writeFile(t, fmt.Sprintf(`{"channels":{"KAKAO":{"url":"https://kakao-gw.example.com/","secretFile":%q},"NAVER":{"url":"https://gw.example.com/naver","secretFile":%[1]q}}}`, sf))
	fc, err := LoadConfig(p)
	if err != nil {
		t.Fatal(err)
	}
	if fc.Endpoints[model.ChannelKakao] != "https://kakao-gw.example.com" || fc.Endpoints[model.ChannelNaver] != "https://gw.example.com/naver" || len(fc.Endpoints) != 2 || fc.AllowInsecureLoopback {
		t.Errorf("parsed %+v", fc)
	}
	fc, err = LoadConfig(writeFile(t, fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"GINITV":{"url":"http://127.0.0.1:8081","secretFile":%q},"KAKAO":{"url":"http://localhost:8081","secretFile":%[1]q}}}`, sf)))
	if err != nil || !fc.AllowInsecureLoopback || fc.Endpoints[model.ChannelGiniTV] != "http://127.0.0.1:8081" {
		t.Errorf("loopback simulator config: %+v %v", fc, err)
	}

	bad := []struct{ content, want string }{
		{``, "not valid JSON"},
		{`{"channels":{}}`, "no channels configured"},
		{`{"chanels":{"KAKAO":{"url":"https://x.example"}}}`, `unknown field "chanels"`},
		{`{"channels":{"kakao":{"url":"https://x.example"}}}`, "did you mean KAKAO?"},
		{`{"channels":{"TWITTER":{"url":"https://x.example"}}}`, `unknown channel "TWITTER"`},
		{`{"channels":{"KAKAO":{}}}`, "KAKAO: url is required"},
		{`{"channels":{"KAKAO":null}}`, "KAKAO: url is required"},
		{`{"channels":{"KAKAO":{"uri":"https://x.example"}}}`, `unknown field "uri"`},
		{`{"channels":{"KAKAO":{"url":"http://x.example"}}}`, "must use https"},
		{`{"channels":{"KAKAO":{"url":"ftp://x.example"}}}`, "absolute https://"},
		{`{"channels":{"KAKAO":{"url":"x.example/api"}}}`, "absolute https://"},
		{`{"channels":{"KAKAO":{"url":"https://user:secret@x.example"}}}`, "credentials"},
		{`{"channels":{"KAKAO":{"url":"https://x.example/?a=1"}}}`, "query or fragment"},
		{`{"channels":{"KAKAO":{"url":"https://127.0.0.1:8081"}}}`, "allowInsecureLoopback"},
		{`{"channels":{"KAKAO":{"url":"http://localhost:8081"}}}`, "allowInsecureLoopback"},
		{`{"channels":{"KAKAO":{"url":"https://10.0.0.5"}}}`, "private address"},
		{`{"allowInsecureLoopback":true,"channels":{"KAKAO":{"url":"http://192.168.0.5"}}}`, "private address"},
		{`{"channels":{"KAKAO":{"url":"https://[fe80::1]/"}}}`, "link-local address"},
		{`{"channels":{"KAKAO":{"url":"https://x.example"}}} {}`, "unexpected data"},
		{`{"channels":{"KAKAO":{"url":"https://x.example"}}`, "not valid JSON"},
	}
	for _, tc := range bad {
		_, err := LoadConfig(writeFile(t, tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "CHANNELS_CONFIG ") {
			t.Errorf("LoadConfig(%s) error = %v, want it to mention %q", tc.content, err, tc.want)
		}
	}
	if _, err := LoadConfig(filepath.Join(t.TempDir(), "missing.json")); err == nil || !strings.Contains(err.Error(), "CHANNELS_CONFIG") {
		t.Errorf("missing file error = %v", err)
	}
	if _, err := LoadConfig(writeFile(t, `{"channels":{"KAKAO":{"url":"https://x.example/`+strings.Repeat("a", 1<<20)+`"}}}`)); err == nil || !strings.Contains(err.Error(), "larger than 1 MB") {
		t.Errorf("huge file error = %v", err)
	}
}

func TestRegistryFromConfigTalksToASimulatorProcess(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{Secrets: map[model.Channel]partnersig.Secret{model.ChannelRingoBiz: partnersig.Secret(testSecret)}})
	reg, err := NewRegistryFromConfig(writeFile(t, fmt.Sprintf(`{"allowInsecureLoopback":true,"channels":{"RINGOBIZ":{"url":%q,"secretFile":%q}}}`, base, secretFile(t, testSecret))), fastOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	if _, err := reg.Adapter(model.ChannelRingoBiz).Publish(context.Background(), request("e", model.ChannelRingoBiz, "k"), nil); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if sim.Posts(model.ChannelRingoBiz, "e") != 1 {
		t.Error("no post")
	}
	_, err = reg.Adapter(model.ChannelKakao).Publish(context.Background(), request("e", model.ChannelKakao, "k"), nil)
	wantErr(t, err, Permanent, "not configured")
}

func FuzzLoadConfig(f *testing.F) {
	for _, s := range []string{
		``, `{}`, `null`, `[]`, `{"channels":{}}`,
		`{"channels":{"KAKAO":{"url":"https://kakao.example.com","secretFile":"k.secret"}}}`,
		`{"allowInsecureLoopback":true,"channels":{"NAVER":{"url":"http://127.0.0.1:8081/","secretFile":"/run/n"}}}`,
		`{"channels":{"GINITV":{"protocol":"partner-v1","url":"https://g.example","secretFile":"g"}}}`,
		`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com","version":"v23.0"}}}`,
		`{"channels":{"KAKAO":{"url":"https://[::1]:99999"}}}`,
		`{"channels":{"KAKAO":{"url":"https://%zz"}}}`,
		`{"channels":{"KAKAO":{"url":"https://x.example"}}} trailing`,
		`{"channels":{"GINITV":{"url":"http://[fe80::1%25eth0]/"}},"allowInsecureLoopback":true}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fc, err := ParseConfig(data)
		if err != nil {
			return
		}
		for ch, cc := range fc.Channels {
			if cc.Protocol == ProtocolInstagramGraph && ch == model.ChannelInstagram && validGraphVersion(cc.Version) && cc.SecretFile == "" {
				continue
			}
			if cc.Protocol != ProtocolPartnerV1 || strings.TrimSpace(cc.SecretFile) == "" || cc.Secret != nil {
				t.Fatalf("accepted %s as %q without a secretFile (or read a secret while parsing)", ch, cc.Protocol)
			}
		}
		for ch, ep := range fc.Endpoints {
			if !ch.Valid() {
				t.Fatalf("accepted unknown channel %q", ch)
			}
			if again, err := checkEndpoint(ep, fc.AllowInsecureLoopback); err != nil || again != ep {
				t.Fatalf("endpoint %q not stable: %q %v", ep, again, err)
			}
			if !fc.AllowInsecureLoopback && !strings.HasPrefix(ep, "https://") {
				t.Fatalf("accepted non-https endpoint %q", ep)
			}
		}
	})
}
