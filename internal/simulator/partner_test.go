package simulator_test

// Partner protocol v1 signature checks of the simulator, with raw signed HTTP requests.

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const partnerSecret = "0123456789abcdef0123456789abcdef0123456789abcdef"

// signed sends a partner v1 request signed with secret at ts.
func signed(t testing.TB, base, method, path, body, secret string, ts time.Time) answer {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	if body == "" {
		req.Body = http.NoBody
	} else {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", "k-"+path)
	}
	if secret != "" {
		tsv, sig := partnersig.Sign(partnersig.Secret(secret), ts, method, path, []byte(body))
		req.Header.Set(partnersig.HeaderTimestamp, tsv)
		req.Header.Set(partnersig.HeaderSignature, sig)
	}
	return do(t, req)
}

func TestPartnerSignatureChecks(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	sim, base := startSim(t, simulator.Config{Now: clock.Now, Secrets: map[model.Channel]partnersig.Secret{
		model.ChannelUridongneTV: partnersig.Secret(partnerSecret),
		model.ChannelRingoBiz:    partnersig.Secret(partnerSecret),
		model.ChannelGiniTV:      partnersig.Secret("another-secret-of-at-least-32-bytes!"),
	}})
	const path = "/v1/channels/URIDONGNETV/publications"
	body := `{"eventId":"evt-sig","title":"봄맞이 세일"}`
	now := clock.Now()

	ok := signed(t, base, http.MethodPost, path, body, partnerSecret, now)
	if ok.status != http.StatusAccepted || ok.pub.Status != simulator.StatusSuccess {
		t.Fatalf("signed submit = %d %+v", ok.status, ok)
	}
	if a := signed(t, base, http.MethodGet, path+"/"+ok.pub.ID, "", partnerSecret, now); a.status != http.StatusOK {
		t.Errorf("signed poll = %d %+v", a.status, a.err)
	}

	cases := []struct {
		name, method, path, body, secret string
		ts                               time.Time
		code                             string
	}{
		{"unsigned submit", http.MethodPost, path, body, "", now, partnersig.CodeMissing},
		{"unsigned poll", http.MethodGet, path + "/" + ok.pub.ID, "", "", now, partnersig.CodeMissing},
		{"wrong secret", http.MethodPost, path, body, strings.Repeat("z", 48), now, partnersig.CodeInvalid},
		{"other channel's secret", http.MethodPost, "/v1/channels/GINITV/publications", body, partnerSecret, now, partnersig.CodeInvalid},
		{"5m1s old", http.MethodPost, path, body, partnerSecret, now.Add(-5*time.Minute - time.Second), partnersig.CodeTimestamp},
		{"5m1s ahead", http.MethodGet, path + "/" + ok.pub.ID, "", partnerSecret, now.Add(5*time.Minute + time.Second), partnersig.CodeTimestamp},
	}
	for _, tc := range cases {
		a := signed(t, base, tc.method, tc.path, tc.body, tc.secret, tc.ts)
		if a.status != http.StatusUnauthorized || a.err.Code != tc.code || a.err.Retryable {
			t.Errorf("%s: %d %+v, want 401 %s", tc.name, a.status, a.err, tc.code)
		}
	}
	// Exactly at the edge of the window is still accepted.
	if a := signed(t, base, http.MethodGet, path+"/"+ok.pub.ID, "", partnerSecret, now.Add(-5*time.Minute)); a.status != http.StatusOK {
		t.Errorf("5m old poll = %d %+v", a.status, a.err)
	}

	// Tampered headers: a garbage timestamp, a signature without v1=, the body changed after signing.
	tsv, sig := partnersig.Sign(partnersig.Secret(partnerSecret), now, http.MethodPost, path, []byte(body))
	for _, h := range []struct{ ts, sig, body, code string }{
		{"1e9", sig, body, partnersig.CodeTimestamp},
		{tsv + "\n", sig, body, partnersig.CodeTimestamp},
		{tsv, strings.TrimPrefix(sig, "v1="), body, partnersig.CodeInvalid},
		{tsv, "v1=" + strings.Repeat("0", 64), body, partnersig.CodeInvalid},
		{tsv, sig + "\x00", body, partnersig.CodeInvalid},
		{tsv, sig, strings.Replace(body, "evt-sig", "evt-sig2", 1), partnersig.CodeInvalid},
	} {
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(h.body))
		req.Header.Set("Idempotency-Key", "k")
		req.Header[partnersig.HeaderTimestamp] = []string{h.ts}
		req.Header[partnersig.HeaderSignature] = []string{h.sig}
		resp, err := http.DefaultClient.Do(req)
		if err != nil { // a header with a control character is refused by the client itself
			continue
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("tampered %q %q: %d, want 401", h.ts, h.sig, resp.StatusCode)
		}
	}

	// A channel without a secret accepts unsigned requests; refused ones are counted, not submitted.
	if a := submit(t, base, model.ChannelKakao, "k", "evt-sig"); a.status != http.StatusAccepted {
		t.Errorf("unsigned submit to a channel without a secret = %d", a.status)
	}
	if st := sim.Stats(model.ChannelUridongneTV); st.Submits != 1 || st.Polls != 2 || st.Posts != 1 || st.Unauthorized != 9 {
		t.Errorf("stats %+v, want 1 submit, 2 polls, 1 post, 9 refused", st)
	}
	if sim.Posts(model.ChannelUridongneTV, "evt-sig2") != 0 {
		t.Error("a tampered body published")
	}
}
