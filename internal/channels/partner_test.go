package channels

// Partner protocol v1 signatures and the protocol/secretFile fields of CHANNELS_CONFIG, against a
// real simulator over HTTP.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// testSecret is a 64-character shared secret.
const testSecret = "3f9a1c7e5b2d8046a1e9c3b7d5f20864c1a7e3b9d5f2068a4c1e7b3d9f5a2c60"

// secretFile writes content to a new file and returns its path.
func secretFile(t testing.TB, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "partner.secret")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// signedSim serves a simulator that checks signatures on every channel with testSecret.
func signedSim(t testing.TB, cfg simulator.Config) (*simulator.Server, string) {
	t.Helper()
	cfg.Secrets = map[model.Channel]partnersig.Secret{}
	for _, ch := range model.AllChannels {
		cfg.Secrets[ch] = partnersig.Secret(testSecret)
	}
	return startSim(t, cfg)
}

func signedRegistry(t testing.TB, base, secret string, opts Options) *Registry {
	t.Helper()
	secrets := map[model.Channel]partnersig.Secret{}
	for _, ch := range model.AllChannels {
		secrets[ch] = partnersig.Secret(secret)
	}
	r := NewSignedSimulatorRegistry(base, secrets, opts)
	t.Cleanup(r.Close)
	return r
}

func TestPartnerSignedPublish(t *testing.T) {
	t.Parallel()
	sim, base := signedSim(t, simulator.Config{Step: 2 * time.Millisecond})
	reg := signedRegistry(t, base, testSecret, fastOpts())
	for _, ch := range []model.Channel{model.ChannelUridongneTV, model.ChannelRingoBiz, model.ChannelGiniTV} {
		var log progressLog
		res, err := reg.Adapter(ch).Publish(context.Background(), request("evt-signed", ch, "k-"+string(ch)), log.fn)
		if err != nil {
			t.Fatalf("%s: signed Publish: %v", ch, err)
		}
		log.check(t)
		if res.DistributionID == "" || sim.Posts(ch, "evt-signed") != 1 {
			t.Errorf("%s: result %+v, posts %d", ch, res, sim.Posts(ch, "evt-signed"))
		}
		if st := sim.Stats(ch); st.Unauthorized != 0 || st.Polls == 0 {
			t.Errorf("%s: stats %+v: want signed polls too and nothing refused", ch, st)
		}
	}
	// The same simulator refuses unsigned requests.
	_, err := newSimRegistry(t, base, fastOpts()).Adapter(model.ChannelGiniTV).Publish(context.Background(), request("evt-unsigned", model.ChannelGiniTV, "k"), nil)
	e := wantErr(t, err, Permanent, "shared secret")
	if e.HTTPStatus != http.StatusUnauthorized || !strings.Contains(e.Detail, "required") {
		t.Errorf("unsigned: %d %q", e.HTTPStatus, e.Detail)
	}
	if sim.Posts(model.ChannelGiniTV, "evt-unsigned") != 0 {
		t.Error("an unsigned request published")
	}
}

func TestPartnerWrongSecretIsAPermanentConfigError(t *testing.T) {
	t.Parallel()
	sim, base := signedSim(t, simulator.Config{})
	reg := signedRegistry(t, base, strings.Repeat("x", 64), fastOpts())
	_, err := reg.Adapter(model.ChannelUridongneTV).Publish(context.Background(), request("evt-bad", model.ChannelUridongneTV, "k"), nil)
	e := wantErr(t, err, Permanent, "the shared secret (secretFile in CHANNELS_CONFIG) does not match")
	if !strings.Contains(e.Message, "clock") || e.HTTPStatus != http.StatusUnauthorized || strings.Contains(e.Error(), testSecret) {
		t.Errorf("error %q: want it to name the secret and the clock, HTTP 401, no secret", e.Error())
	}
	st := sim.Stats(model.ChannelUridongneTV)
	if st.Unauthorized != 1 || st.Submits != 0 || st.Posts != 0 {
		t.Errorf("stats %+v: want one refused request, no submit, no post", st)
	}
}

func TestPartnerTimestampOutsideWindow(t *testing.T) {
	t.Parallel()
	sim, base := signedSim(t, simulator.Config{})
	for _, tc := range []struct {
		skew time.Duration
		ok   bool
	}{{-6 * time.Minute, false}, {6 * time.Minute, false}, {-4 * time.Minute, true}, {4*time.Minute + 50*time.Second, true}} {
		opts := fastOpts()
		opts.Now = func() time.Time { return time.Now().Add(tc.skew) } // this host's clock is off by skew
		ev := fmt.Sprintf("evt-skew%s", tc.skew)
		_, err := signedRegistry(t, base, testSecret, opts).Adapter(model.ChannelRingoBiz).Publish(context.Background(), request(ev, model.ChannelRingoBiz, ev), nil)
		if tc.ok {
			if err != nil {
				t.Errorf("clock %s off: %v, want success inside the 5 minute window", tc.skew, err)
			}
			continue
		}
		e := wantErr(t, err, Permanent, "clock is wrong")
		if !strings.Contains(e.Detail, "5m0s") || sim.Posts(model.ChannelRingoBiz, ev) != 0 {
			t.Errorf("clock %s off: detail %q, posts %d", tc.skew, e.Detail, sim.Posts(model.ChannelRingoBiz, ev))
		}
	}
}

// captureTransport records the last request it forwards (headers and body).
type captureTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []captured
}

type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil && r.Body != http.NoBody {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, captured{r.Method, r.URL.EscapedPath(), r.Header.Clone(), body})
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

func TestPartnerReplayToAnotherPathIsRejected(t *testing.T) {
	t.Parallel()
	sim, base := signedSim(t, simulator.Config{})
	capt := &captureTransport{}
	opts := fastOpts()
	opts.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { capt.next = rt; return capt }
	reg := signedRegistry(t, base, testSecret, opts)
	if _, err := reg.Adapter(model.ChannelUridongneTV).Publish(context.Background(), request("evt-replay", model.ChannelUridongneTV, "k"), nil); err != nil {
		t.Fatal(err)
	}
	capt.mu.Lock()
	reqs := capt.reqs
	capt.mu.Unlock()
	if len(reqs) < 2 || reqs[0].method != http.MethodPost || reqs[1].method != http.MethodGet {
		t.Fatalf("captured %d requests, want a submit then polls", len(reqs))
	}
	replay := func(c captured, path string) int {
		req, err := http.NewRequest(c.method, base+path, bytes.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = c.header.Clone()
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode == http.StatusUnauthorized && !strings.Contains(string(body), partnersig.CodeInvalid) {
			t.Errorf("replay to %s: body %s, want code %s", path, body, partnersig.CodeInvalid)
		}
		return res.StatusCode
	}
	// Replayed as captured it is accepted (inside the window; the idempotency key makes it harmless).
	if code := replay(reqs[0], reqs[0].path); code != http.StatusAccepted {
		t.Errorf("replay to the same path = %d, want 202", code)
	}
	// The same signed submit sent to another channel (same secret there) is refused.
	if code := replay(reqs[0], "/v1/channels/GINITV/publications"); code != http.StatusUnauthorized {
		t.Errorf("submit replayed to GINITV = %d, want 401", code)
	}
	// A signed poll replayed to another publication or as a submit is refused.
	if code := replay(reqs[1], reqs[1].path+"x"); code != http.StatusUnauthorized {
		t.Errorf("poll replayed to another id = %d, want 401", code)
	}
	post := reqs[0]
	post.body = []byte(`{"eventId":"evt-other","title":"x"}`)
	if code := replay(post, reqs[0].path); code != http.StatusUnauthorized {
		t.Errorf("signature with another body = %d, want 401", code)
	}
	if sim.Posts(model.ChannelGiniTV, "evt-replay") != 0 || sim.Posts(model.ChannelUridongneTV, "evt-other") != 0 || sim.Posts(model.ChannelUridongneTV, "evt-replay") != 1 {
		t.Error("a replay published")
	}
}

func TestConfigProtocolAndSecretFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("udtv.secret", "  "+testSecret+"\n")
	write("short.secret", strings.Repeat("s", 31)+"\n")
	abs := write("abs.secret", testSecret)

	// The old {"url"} form and an explicit partner-v1, relative (to the config's directory) and
	// absolute secretFile; the secret is trimmed.
	fc, err := LoadConfig(write("ok.json", fmt.Sprintf(`{"channels":{
		"URIDONGNETV":{"url":"https://udtv.example.com/","secretFile":"udtv.secret"},
		"GINITV":{"protocol":"partner-v1","url":"https://gtv.example.com/api","secretFile":%q}}}`, abs)))
	if err != nil {
		t.Fatal(err)
	}
	udtv, gtv := fc.Channels[model.ChannelUridongneTV], fc.Channels[model.ChannelGiniTV]
	if udtv.Protocol != ProtocolPartnerV1 || udtv.URL != "https://udtv.example.com" || string(udtv.Secret) != testSecret ||
		gtv.Protocol != ProtocolPartnerV1 || gtv.URL != "https://gtv.example.com/api" || string(gtv.Secret) != testSecret {
		t.Errorf("parsed %+v", fc)
	}
	// The secret never prints.
	for _, s := range []string{fmt.Sprintf("%v %+v %#v %s %x", fc, fc, fc, udtv.Secret, udtv.Secret)} {
		if strings.Contains(s, testSecret) || strings.Contains(s, fmt.Sprintf("%x", testSecret)) || !strings.Contains(s, "[redacted]") {
			t.Errorf("secret printed: %s", s)
		}
	}

	bad := []struct{ content, want string }{
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example"}}}`, "channel RINGOBIZ: secretFile is required for protocol partner-v1"},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"  "}}}`, "channel RINGOBIZ: secretFile is required"},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"short.secret"}}}`, "channel RINGOBIZ: secretFile: " + filepath.Join(dir, "short.secret") + ": the shared secret must be at least 32 bytes (it has 31)"},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"missing.secret"}}}`, "channel RINGOBIZ: secretFile: open " + filepath.Join(dir, "missing.secret") + ": no such file"},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"."}}}`, "channel RINGOBIZ: secretFile: read " + dir},
		{`{"channels":{"RINGOBIZ":{"url":"https://r.example","secretFile":"udtv.secret","version":"v1"}}}`, "version applies to protocol instagram-graph"},
		{`{"channels":{"INSTAGRAM":{"protocol":"instagram-graph","url":"https://graph.instagram.com"}}}`, `channel INSTAGRAM: version "": want the Graph API version`},
		{`{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com"}}}`, "channel NAVER: tokenUrl is required"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-nhn","url":"https://api-alimtalk.cloud.toast.com"}}}`, "channel KAKAO: protocol kakao-nhn is not implemented yet"},
		{`{"channels":{"KAKAO":{"protocol":"kakao-","url":"https://k.example"}}}`, `channel KAKAO: unknown protocol "kakao-"`},
		{`{"channels":{"KAKAO":{"protocol":"Partner-V1","url":"https://k.example","secretFile":"udtv.secret"}}}`, `unknown protocol "Partner-V1" (want partner-v1, instagram-graph, naver-cafe or kakao-<dealer>)`},
		{`{"channels":{"KAKAO":{"protocol":"smtp\n\u0000","url":"https://k.example"}}}`, `unknown protocol "smtp\n\x00"`},
		{`{"channels":{"KAKAO":{"secret":"abc","url":"https://k.example"}}}`, `unknown field "secret"`},
	}
	for i, tc := range bad {
		_, err := LoadConfig(write(fmt.Sprintf("bad%d.json", i), tc.content))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "CHANNELS_CONFIG ") {
			t.Errorf("LoadConfig(%s) error = %v, want it to mention %q", tc.content, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("error shows the secret: %v", err)
		}
	}
	// An incomplete naver-cafe entry is refused by the registry too, so serve does not start.
	if _, err := NewRegistryFromConfig(write("naver.json", `{"channels":{"NAVER":{"protocol":"naver-cafe","url":"https://openapi.naver.com"}}}`), Options{}); err == nil || !strings.Contains(err.Error(), "tokenUrl is required") {
		t.Errorf("NewRegistryFromConfig(naver-cafe) = %v", err)
	}
}

// TestPartnerOpenAPIDocumentNamesTheWire: the OpenAPI document names the headers, the error codes
// and the canonical string the code uses, so the two cannot drift apart silently.
func TestPartnerOpenAPIDocumentNamesTheWire(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "partner-v1.openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	canonical := string(partnersig.Payload("1764971400", "GET", "/v1/channels/GINITV/publications/pub_1a2b", nil))
	for _, want := range []string{
		"openapi: 3.", "/v1/channels/{channel}/publications:", "/v1/channels/{channel}/publications/{id}:",
		"Idempotency-Key", "Idempotent-Replayed", partnersig.HeaderTimestamp, partnersig.HeaderSignature,
		partnersig.CodeMissing, partnersig.CodeInvalid, partnersig.CodeTimestamp, "5 minutes",
		"idempotency_conflict", "invalid_request", "too_large", "rate_limited", "unavailable", "not_found",
		strings.TrimSuffix(canonical, "\n") + `\n`,
	} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/partner-v1.openapi.yaml does not mention %q", want)
		}
	}
	if partnersig.Window != 5*time.Minute || partnersig.MinSecretLen != 32 {
		t.Errorf("window %s, min secret %d: update the document", partnersig.Window, partnersig.MinSecretLen)
	}
}
