package simulator_test

// One file on purpose: the tests specify the simulator's protocol and fault injection against one
// server fixture, in the order of doc.go.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"go.uber.org/goleak"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
	"github.com/marketing-platform/distribution/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClock is an injectable clock that moves only when told to.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 14, 10, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startSim serves a simulator on an httptest server closed at the end of the test.
func startSim(t testing.TB, cfg simulator.Config) (*simulator.Server, string) {
	t.Helper()
	s := simulator.New(cfg)
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(s.Close) // runs first: releases hung requests so ts.Close does not wait
	return s, ts.URL
}

type answer struct {
	status int
	header http.Header
	pub    simulator.PublicationView
	err    simulator.APIError
}

func submit(t testing.TB, base string, ch model.Channel, key, eventID string) answer {
	t.Helper()
	body := fmt.Sprintf(`{"eventId":%q,"title":"봄맞이 세일","description":"전 품목 20%%","imageUrl":"https://img.example.com/a.png","storeName":"우리동네 빵집"}`, eventID)
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/channels/"+string(ch)+"/publications", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return do(t, req)
}

func poll(t testing.TB, base string, ch model.Channel, id string) answer {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v1/channels/"+string(ch)+"/publications/"+id, nil)
	return do(t, req)
}

func do(t testing.TB, req *http.Request) answer {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode < 300 {
		if err := json.Unmarshal(b, &a.pub); err != nil {
			t.Fatalf("decode %s: %v", b, err)
		}
	} else {
		var e struct{ Error simulator.APIError }
		if err := json.Unmarshal(b, &e); err != nil {
			t.Fatalf("error body is not the protocol's JSON: %s", b)
		}
		a.err = e.Error
	}
	return a
}

func TestResultsPerChannel(t *testing.T) {
	t.Parallel()
	submitted := time.Date(2025, 3, 14, 23, 30, 0, 0, time.UTC) // 08:30 next day in KST
	id := regexp.MustCompile
	cases := []struct {
		ch       model.Channel
		check    func(r simulator.Result) bool
		min, max int
		schedule bool
	}{
		{model.ChannelUridongneTV, func(r simulator.Result) bool { return id(`^UDTV-[0-9A-Z]{8}$`).MatchString(r.DistributionID) }, 5000, 50000, true},
		{model.ChannelGiniTV, func(r simulator.Result) bool { return id(`^GTV-[0-9A-Z]{8}$`).MatchString(r.DistributionID) }, 10000, 80000, true},
		{model.ChannelRingoBiz, func(r simulator.Result) bool { return id(`^RGB-[0-9A-Z]{8}$`).MatchString(r.DistributionID) }, 300, 5000, false},
		{model.ChannelInstagram, func(r simulator.Result) bool {
			return id(`^\d{19}$`).MatchString(r.PostID) && id(`^https://www\.instagram\.com/p/[A-Za-z0-9_-]{11}/$`).MatchString(r.PostURL)
		}, 500, 20000, false},
		{model.ChannelNaver, func(r simulator.Result) bool {
			return id(`^\d{12}$`).MatchString(r.PostID) && r.PostURL != "" && strings.HasSuffix(r.PostURL, "/"+r.PostID) &&
				id(`^https://blog\.naver\.com/[a-z_]+/\d{12}$`).MatchString(r.PostURL)
		}, 200, 8000, false},
		{model.ChannelKakao, func(r simulator.Result) bool { return id(`^KM\d{14}$`).MatchString(r.MessageID) }, 100, 3000, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.ch), func(t *testing.T) {
			t.Parallel()
			for _, ev := range []string{"evt-1", "3f2b8c1e-0000-4000-8000-000000000001", "한글-이벤트"} {
				r := simulator.ResultFor(ev, tc.ch, submitted)
				if !tc.check(r) {
					t.Errorf("%s: ids have the wrong shape: %+v", ev, r)
				}
				if r.EstimatedViews < tc.min || r.EstimatedViews > tc.max {
					t.Errorf("%s: estimatedViews %d outside %d..%d", ev, r.EstimatedViews, tc.min, tc.max)
				}
				again := simulator.ResultFor(ev, tc.ch, submitted.Add(30*time.Minute)) // same KST day
				if !equalJSON(r, again) {
					t.Errorf("%s: not deterministic:\n%+v\n%+v", ev, r, again)
				}
				if tc.schedule != (len(r.ImpressionSchedule) > 0) {
					t.Fatalf("%s: schedule presence = %v, want %v", ev, len(r.ImpressionSchedule) > 0, tc.schedule)
				}
				checkSchedule(t, r.ImpressionSchedule, submitted)
			}
			a, b := simulator.ResultFor("evt-a", tc.ch, submitted), simulator.ResultFor("evt-b", tc.ch, submitted)
			if equalJSON(a, b) {
				t.Errorf("two events got the same result %+v", a)
			}
		})
	}
}

func checkSchedule(t *testing.T, slots []model.ImpressionSlot, submitted time.Time) {
	t.Helper()
	if len(slots) == 0 {
		return
	}
	if len(slots) < 3 || len(slots) > 6 {
		t.Errorf("%d slots, want 3-6", len(slots))
	}
	var prev time.Time
	for _, s := range slots {
		start, err1 := time.Parse(time.RFC3339, s.Start)
		end, err2 := time.Parse(time.RFC3339, s.End)
		if err1 != nil || err2 != nil || !end.After(start) {
			t.Fatalf("bad slot %+v", s)
		}
		if !strings.HasSuffix(s.Start, "+09:00") {
			t.Errorf("slot %+v is not in KST", s)
		}
		if !start.After(submitted) || start.Before(prev) {
			t.Errorf("slot %+v is not in the coming days in order", s)
		}
		switch s.Slot {
		case "morning", "daytime", "prime", "late":
		default:
			t.Errorf("unknown slot name %q", s.Slot)
		}
		if s.Spots < 2 || s.Spots > 12 {
			t.Errorf("spots %d out of range", s.Spots)
		}
		prev = start
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestPublicationProgressFollowsTheClock(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	sim, base := startSim(t, simulator.Config{Step: time.Second, Now: clock.Now})

	a := submit(t, base, model.ChannelGiniTV, "k1", "evt-progress")
	if a.status != http.StatusAccepted || a.pub.Status != simulator.StatusInProgress || a.pub.Progress != 0 || a.pub.ID == "" {
		t.Fatalf("submit = %d %+v, want 202 IN_PROGRESS 0", a.status, a.pub)
	}
	for want := 20; want < 100; want += 20 {
		clock.Advance(time.Second)
		p := poll(t, base, model.ChannelGiniTV, a.pub.ID)
		if p.pub.Status != simulator.StatusInProgress || p.pub.Progress != want || p.pub.Result != nil {
			t.Fatalf("after %d steps: %+v, want IN_PROGRESS %d", want/20, p.pub, want)
		}
	}
	clock.Advance(time.Second)
	p := poll(t, base, model.ChannelGiniTV, a.pub.ID)
	if p.pub.Status != simulator.StatusSuccess || p.pub.Progress != 100 || p.pub.Result == nil {
		t.Fatalf("final = %+v, want SUCCESS 100 with a result", p.pub)
	}
	if want := simulator.ResultFor("evt-progress", model.ChannelGiniTV, clock.Now()); !equalJSON(*p.pub.Result, want) {
		t.Errorf("result %+v, want %+v", *p.pub.Result, want)
	}
	if st := sim.Stats(model.ChannelGiniTV); st.Submits != 1 || st.Polls != 5 || st.Posts != 1 {
		t.Errorf("stats = %+v", st)
	}
	// The publication id is per channel.
	if p := poll(t, base, model.ChannelKakao, a.pub.ID); p.status != http.StatusNotFound || p.err.Code != "not_found" {
		t.Errorf("poll on another channel = %d %+v, want 404", p.status, p.err)
	}
}

func TestSubmitIsIdempotent(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{Step: time.Millisecond})
	first := submit(t, base, model.ChannelKakao, "dist-1:KAKAO:0", "evt-idem")
	second := submit(t, base, model.ChannelKakao, "dist-1:KAKAO:0", "evt-idem")
	if first.status != http.StatusAccepted || second.status != http.StatusAccepted {
		t.Fatalf("statuses %d, %d", first.status, second.status)
	}
	if first.pub.ID != second.pub.ID || second.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay returned %q (replayed=%q), want %q", second.pub.ID, second.header.Get("Idempotent-Replayed"), first.pub.ID)
	}
	if n := sim.Posts(model.ChannelKakao, "evt-idem"); n != 1 {
		t.Fatalf("posts = %d, want 1", n)
	}
	// The same key on another channel is another publication.
	if other := submit(t, base, model.ChannelNaver, "dist-1:KAKAO:0", "evt-idem"); other.pub.ID == first.pub.ID {
		t.Error("keys must be scoped per channel")
	}
	// A key reused for another event is refused.
	if c := submit(t, base, model.ChannelKakao, "dist-1:KAKAO:0", "evt-other"); c.status != http.StatusConflict || c.err.Code != "idempotency_conflict" {
		t.Errorf("key reuse = %d %+v, want 409", c.status, c.err)
	}
	// A new key (a manual retry) is a new post with the same deterministic result.
	third := submit(t, base, model.ChannelKakao, "dist-1:KAKAO:1", "evt-idem")
	if third.pub.ID == first.pub.ID || sim.Posts(model.ChannelKakao, "evt-idem") != 2 {
		t.Errorf("new key: id %q posts %d", third.pub.ID, sim.Posts(model.ChannelKakao, "evt-idem"))
	}
}

func TestSubmitValidation(t *testing.T) {
	t.Parallel()
	_, base := startSim(t, simulator.Config{})
	if a := submit(t, base, model.ChannelKakao, "", "evt"); a.status != http.StatusBadRequest || !strings.Contains(a.err.Message, "Idempotency-Key") {
		t.Errorf("missing key = %d %+v", a.status, a.err)
	}
	if a := submit(t, base, "TWITTER", "k", "evt"); a.status != http.StatusNotFound {
		t.Errorf("unknown channel = %d", a.status)
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/channels/KAKAO/publications", strings.NewReader(`{"eventId":`))
	req.Header.Set("Idempotency-Key", "k")
	if a := do(t, req); a.status != http.StatusBadRequest {
		t.Errorf("bad JSON = %d", a.status)
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/channels/KAKAO/publications", strings.NewReader(`{"eventId":"e","title":"`+strings.Repeat("x", 70<<10)+`"}`))
	req.Header.Set("Idempotency-Key", "k")
	if a := do(t, req); a.status != http.StatusRequestEntityTooLarge {
		t.Errorf("huge submit = %d", a.status)
	}
}

func TestParseFail(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want map[model.Channel]simulator.FailRule
	}{
		{"", map[model.Channel]simulator.FailRule{}},
		{"KAKAO=3", map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 3}}},
		{"KAKAO=3,NAVER=always", map[model.Channel]simulator.FailRule{model.ChannelKakao: {First: 3}, model.ChannelNaver: {Always: true}}},
		{" kakao = 0 , ginitv=ALWAYS ,", map[model.Channel]simulator.FailRule{model.ChannelKakao: {}, model.ChannelGiniTV: {Always: true}}},
	}
	for _, tc := range good {
		got, err := simulator.ParseFail(tc.in)
		if err != nil || !equalJSON(got, tc.want) {
			t.Errorf("ParseFail(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	bad := []struct{ in, want string }{
		{"TWITTER=1", `unknown channel "TWITTER"`},
		{"KAKAO", "want CHANNEL=N or CHANNEL=always"},
		{"KAKAO=", `bad count ""`},
		{"KAKAO=-1", `bad count "-1"`},
		{"KAKAO=three", `bad count "three"`},
		{"KAKAO=99999999999999999999", "bad count"},
		{"KAKAO=1,KAKAO=2", "listed twice"},
		{"=3", `unknown channel ""`},
	}
	for _, tc := range bad {
		_, err := simulator.ParseFail(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "SIMULATOR_FAIL: ") {
			t.Errorf("ParseFail(%q) error = %v, want it to mention %q", tc.in, err, tc.want)
		}
	}
}

func TestFailFirstNCountsAcrossKeys(t *testing.T) {
	t.Parallel()
	rules, err := simulator.ParseFail("KAKAO=2,NAVER=always")
	if err != nil {
		t.Fatal(err)
	}
	sim, base := startSim(t, simulator.Config{Fail: rules})

	// Two automatic attempts with one key, then a manual retry with a new key.
	for i, key := range []string{"gen0", "gen0", "gen1"} {
		a := submit(t, base, model.ChannelKakao, key, "evt-fail")
		if i < 2 {
			if a.status != http.StatusServiceUnavailable || a.err.Code != "unavailable" || !a.err.Retryable || !strings.Contains(a.err.Message, "simulated failure") {
				t.Fatalf("submit %d = %d %+v, want 503 unavailable", i+1, a.status, a.err)
			}
			continue
		}
		if a.status != http.StatusAccepted {
			t.Fatalf("submit 3 = %d %+v, want 202", a.status, a.err)
		}
	}
	if got := sim.Attempts(model.ChannelKakao, "evt-fail"); got != 3 {
		t.Errorf("attempts = %d, want 3", got)
	}
	// An idempotent replay neither counts nor fails.
	if a := submit(t, base, model.ChannelKakao, "gen1", "evt-fail"); a.status != http.StatusAccepted || sim.Attempts(model.ChannelKakao, "evt-fail") != 3 {
		t.Errorf("replay = %d, attempts %d", a.status, sim.Attempts(model.ChannelKakao, "evt-fail"))
	}
	// Counting is per event: another event fails its first two again.
	if a := submit(t, base, model.ChannelKakao, "x", "evt-fail-2"); a.status != http.StatusServiceUnavailable {
		t.Errorf("another event's first submit = %d, want 503", a.status)
	}
	for i := range 5 {
		if a := submit(t, base, model.ChannelNaver, fmt.Sprintf("k%d", i), "evt-fail"); a.status != http.StatusServiceUnavailable {
			t.Fatalf("NAVER=always submit %d = %d", i, a.status)
		}
	}
	if sim.Posts(model.ChannelNaver, "evt-fail") != 0 || sim.Posts(model.ChannelKakao, "evt-fail") != 1 {
		t.Error("failed submits must not create posts")
	}
	if a := submit(t, base, model.ChannelGiniTV, "k", "evt-fail"); a.status != http.StatusAccepted {
		t.Errorf("unlisted channel = %d", a.status)
	}
}

func TestFailedPublicationFreesTheKey(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	sim, base := startSim(t, simulator.Config{Step: time.Second, Now: clock.Now})
	sim.MustInject(model.ChannelInstagram, simulator.FailPublication("image rejected: too small", false))
	a := submit(t, base, model.ChannelInstagram, "k", "evt-f")
	clock.Advance(2 * time.Second)
	p := poll(t, base, model.ChannelInstagram, a.pub.ID)
	if p.pub.Status != simulator.StatusFailed || p.pub.Progress != 40 || p.pub.Error == nil || p.pub.Error.Message != "image rejected: too small" || p.pub.Error.Retryable {
		t.Fatalf("poll = %+v, want FAILED at 40 with the message", p.pub)
	}
	if sim.Posts(model.ChannelInstagram, "evt-f") != 0 {
		t.Error("a failed publication is not a post")
	}
	b := submit(t, base, model.ChannelInstagram, "k", "evt-f")
	if b.pub.ID == a.pub.ID || b.pub.Status != simulator.StatusInProgress || sim.Posts(model.ChannelInstagram, "evt-f") != 1 {
		t.Errorf("resubmit after FAILED = %+v, want a new publication", b.pub)
	}
}

func TestScriptedFaults(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelRingoBiz,
		simulator.Status(502, "upstream down"),
		simulator.RateLimit("7"),
		simulator.Reject("image rejected"),
		simulator.Redirect("https://elsewhere.example/"),
	)
	if a := submit(t, base, model.ChannelRingoBiz, "k", "e"); a.status != 502 || a.err.Message != "upstream down" {
		t.Errorf("status fault = %d %+v", a.status, a.err)
	}
	if a := submit(t, base, model.ChannelRingoBiz, "k", "e"); a.status != 429 || a.header.Get("Retry-After") != "7" {
		t.Errorf("rate limit fault = %d %v", a.status, a.header)
	}
	if a := submit(t, base, model.ChannelRingoBiz, "k", "e"); a.status != 400 || a.err.Message != "image rejected" || a.err.Retryable {
		t.Errorf("reject fault = %d %+v", a.status, a.err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest(http.MethodPost, base+"/v1/channels/RINGOBIZ/publications", strings.NewReader(`{}`))
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://elsewhere.example/" {
		t.Errorf("redirect fault = %d %v", resp.StatusCode, resp.Header)
	}
	if sim.PendingFaults(model.ChannelRingoBiz) != 0 {
		t.Error("faults not consumed")
	}
	if a := submit(t, base, model.ChannelRingoBiz, "k", "e"); a.status != http.StatusAccepted {
		t.Errorf("after the script = %d", a.status)
	}
	if err := sim.Inject(model.ChannelRingoBiz, simulator.Status(200, "")); err == nil {
		t.Error("a 200 status fault must be refused")
	}
	if err := sim.Inject("NOPE", simulator.Hang()); err == nil {
		t.Error("unknown channel must be refused")
	}
}

func TestHugeBodyAndHangAndLostResponse(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	sim.MustInject(model.ChannelKakao, simulator.HugeBody(3<<20), simulator.LoseResponse(), simulator.Hang())

	req, _ := http.NewRequest(http.MethodPost, base+"/v1/channels/KAKAO/publications", strings.NewReader(`{}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if n != 3<<20 {
		t.Errorf("huge body = %d bytes, want %d", n, 3<<20)
	}

	// Lost response: the post is created, the client sees no answer.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ = http.NewRequest(http.MethodPost, base+"/v1/channels/KAKAO/publications", strings.NewReader(`{"eventId":"evt-lost","title":"t"}`))
	req.Header.Set("Idempotency-Key", "lost-1")
	if resp, err := tr.RoundTrip(req); err == nil {
		resp.Body.Close()
		t.Fatalf("lost response answered %d", resp.StatusCode)
	}
	if sim.Posts(model.ChannelKakao, "evt-lost") != 1 {
		t.Fatal("the lost submit must still create the post")
	}

	// Hang: held until the client gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	req, _ = http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/channels/KAKAO/publications", strings.NewReader(`{}`))
	start := time.Now()
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("hang answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("hang held the client for %s after its deadline", d)
	}
	a := submit(t, base, model.ChannelKakao, "lost-1", "evt-lost")
	if a.status != http.StatusAccepted || sim.Posts(model.ChannelKakao, "evt-lost") != 1 {
		t.Errorf("retry after the lost response = %d, posts %d; want the same post", a.status, sim.Posts(model.ChannelKakao, "evt-lost"))
	}
}

func TestAdminEndpoint(t *testing.T) {
	t.Parallel()
	sim, base := startSim(t, simulator.Config{})
	post := func(path, body string) *http.Response {
		resp, err := http.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if r := post("/_admin/faults/NAVER", `{"faults":[{"kind":"latency","delay":"1ms"},{"kind":"status","status":503,"on":"poll"}]}`); r.StatusCode != 200 {
		t.Fatalf("inject = %d", r.StatusCode)
	}
	if sim.PendingFaults(model.ChannelNaver) != 2 {
		t.Fatalf("pending = %d", sim.PendingFaults(model.ChannelNaver))
	}
	for _, bad := range []string{`{"faults":[{"kind":"explode"}]}`, `{"faults":[{"kind":"latency","delay":"soon"}]}`, `{"fault":[]}`} {
		if r := post("/_admin/faults/NAVER", bad); r.StatusCode != 400 {
			t.Errorf("inject %s = %d, want 400", bad, r.StatusCode)
		}
	}
	req, _ := http.NewRequest(http.MethodPut, base+"/_admin/fail", strings.NewReader("NAVER=1"))
	if a := do(t, req); a.status != 200 {
		t.Fatalf("set fail = %d", a.status)
	}
	if a := submit(t, base, model.ChannelNaver, "k", "evt-admin"); a.status != 503 {
		t.Errorf("after PUT fail NAVER=1, submit = %d", a.status)
	}
	submit(t, base, model.ChannelNaver, "k", "evt-admin")
	resp, err := http.Get(base + "/_admin/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st simulator.StatsView
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Channels[model.ChannelNaver].Submits != 2 || st.Posts["evt-admin"][model.ChannelNaver] != 1 {
		t.Errorf("stats = %+v", st)
	}
	req, _ = http.NewRequest(http.MethodDelete, base+"/_admin/faults", nil)
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if sim.PendingFaults(model.ChannelNaver) != 0 {
		t.Error("DELETE did not clear the faults")
	}
}

func TestAdminRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	defer sim.Close()
	req := httptest.NewRequest(http.MethodGet, "/_admin/stats", nil)
	req.RemoteAddr = "203.0.113.7:5555"
	rec := httptest.NewRecorder()
	sim.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("non-loopback admin = %d, want 403", rec.Code)
	}
}

func TestStartAndRunShutDownGracefully(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	base, stop, err := sim.StartLocal(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Errorf("base URL %q", base)
	}
	if a := submit(t, base, model.ChannelKakao, "k", "e"); a.status != http.StatusAccepted {
		t.Errorf("submit = %d", a.status)
	}
	// A hung request does not block shutdown.
	sim.MustInject(model.ChannelKakao, simulator.Hang())
	errc := make(chan error, 1)
	go func() {
		resp, err := http.Post(base+"/v1/channels/KAKAO/publications", "application/json", strings.NewReader(`{}`))
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	testkit.Eventually(t, 5*time.Second, "the hang fault taken by the request", func() bool { return sim.PendingFaults(model.ChannelKakao) == 0 })
	cancel() // ctx done triggers stop
	select {
	case <-errc:
	case <-time.After(10 * time.Second):
		t.Fatal("hung request not released by shutdown")
	}
	stop() // idempotent
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()

	runCtx, runCancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- simulator.Run(runCtx, "127.0.0.1:0", simulator.Config{}) }()
	runCancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil after ctx done", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := simulator.Run(context.Background(), "256.0.0.1:1", simulator.Config{}); err == nil {
		t.Error("Run on a bad address must fail")
	}
}

func FuzzParseFail(f *testing.F) {
	for _, s := range []string{"", "KAKAO=3", "KAKAO=3,NAVER=always", " kakao = 1 ,", "KAKAO", "=", ",,,", "KAKAO=1,KAKAO=2", "NAVER=-1", "GINITV=10000", "INSTAGRAM=99999999999999999999999", "우리동네=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rules, err := simulator.ParseFail(s)
		if err != nil {
			return
		}
		again, err := simulator.ParseFail(simulator.FormatFail(rules))
		if err != nil || !equalJSON(rules, again) {
			t.Fatalf("round trip of %q: %v %v != %v", s, err, again, rules)
		}
	})
}

func TestParseFailQuotesWholeCharacters(t *testing.T) {
	t.Parallel()
	_, err := simulator.ParseFail("xy" + strings.Repeat("가", 60) + "=1")
	if err == nil || !utf8.ValidString(err.Error()) || strings.Contains(err.Error(), `\x`) {
		t.Fatalf("ParseFail error %v: want an error quoting whole characters only", err)
	}
}
