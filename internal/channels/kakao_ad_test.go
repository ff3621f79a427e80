package channels

// KakaoTalk advertising messages: the "(광고)" prefix and the opt-out line on the wire, once.

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

func TestKakaoAdComposition(t *testing.T) {
	t.Parallel()
	hostile := "줄1\r\n줄2\x00<script>alert(1)</script>\xff\xfe " + strings.Repeat("긴", 4000)
	for _, tc := range []struct {
		name, title, desc, wantTitle, wantDesc string
	}{
		{"plain", "봄 세일", "전 품목 30%", "(광고) 봄 세일", "전 품목 30%\n\n" + KakaoOptOut},
		{"empty description", "세일", "", "(광고) 세일", KakaoOptOut},
		{"already composed (a retry)", "(광고) 세일", "본문\n\n" + KakaoOptOut, "(광고) 세일", "본문\n\n" + KakaoOptOut},
		{"marketer wrote the prefix", "(광고)세일", "본문", "(광고)세일", "본문\n\n" + KakaoOptOut},
		{"prefix later in the title is not the prefix", "세일 (광고)", "x", "(광고) 세일 (광고)", "x\n\n" + KakaoOptOut},
		{"hostile text kept byte for byte", hostile, hostile + "\n", "(광고) " + hostile, hostile + "\n\n\n" + KakaoOptOut},
	} {
		t.Run(tc.name, func(t *testing.T) {
			title, desc := kakaoAd(model.ChannelKakao, tc.title, tc.desc)
			if title != tc.wantTitle || desc != tc.wantDesc {
				t.Fatalf("kakaoAd(%q, %q) = %q, %q; want %q, %q", tc.title, tc.desc, title, desc, tc.wantTitle, tc.wantDesc)
			}
			// Composing again (a retry of an already composed message) changes nothing.
			if t2, d2 := kakaoAd(model.ChannelKakao, title, desc); t2 != title || d2 != desc {
				t.Fatalf("composed twice: %q, %q", t2, d2)
			}
			if strings.Count(title, KakaoAdPrefix) != strings.Count(tc.wantTitle, KakaoAdPrefix) {
				t.Fatalf("prefix count in %q", title)
			}
		})
	}
	for _, ch := range model.AllChannels {
		if ch == model.ChannelKakao {
			continue
		}
		if title, desc := kakaoAd(ch, "세일", "본문"); title != "세일" || desc != "본문" {
			t.Errorf("%s text changed: %q %q", ch, title, desc)
		}
	}
}

// On the wire (partner v1 submit body, against the simulator over HTTP): KAKAO's title and
// description carry the prefix and the opt-out line exactly once, on the first submit and on a
// retry with the same key; another channel's text is sent as written.
func TestKakaoAdOnTheWire(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{Step: time.Millisecond})
	t.Cleanup(sim.Close)
	var (
		mu     sync.Mutex
		bodies = map[string][]wireSubmit{}
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var s wireSubmit
			if err := json.Unmarshal(b, &s); err != nil {
				t.Errorf("submit body: %v", err)
			}
			mu.Lock()
			ch := r.URL.Path[len("/v1/channels/"):strings.LastIndex(r.URL.Path, "/")]
			bodies[ch] = append(bodies[ch], s)
			mu.Unlock()
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	reg := NewSimulatorRegistry(ts.URL, fastOpts())
	t.Cleanup(reg.Close)

	desc := "첫 줄\n<b>둘째</b> 줄 \"따옴표\""
	for _, ch := range []model.Channel{model.ChannelKakao, model.ChannelNaver} {
		req := Request{EventID: "ev-ad", Channel: ch, Title: "봄 세일", Description: desc, StoreName: "가게", IdempotencyKey: "1:" + string(ch) + ":r0"}
		for range 2 { // the second is a retry with the same key
			if _, err := reg.Adapter(ch).Publish(context.Background(), req, nil); err != nil {
				t.Fatalf("%s: %v", ch, err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	k := bodies[string(model.ChannelKakao)]
	if len(k) != 2 {
		t.Fatalf("KAKAO submits: %d", len(k))
	}
	for i, s := range k {
		if s.Title != "(광고) 봄 세일" || s.Description != desc+"\n\n"+KakaoOptOut {
			t.Errorf("KAKAO submit %d: title %q description %q", i, s.Title, s.Description)
		}
	}
	for _, s := range bodies[string(model.ChannelNaver)] {
		if s.Title != "봄 세일" || s.Description != desc {
			t.Errorf("NAVER text changed: %q %q", s.Title, s.Description)
		}
	}
}

// The partner protocol's document says what KAKAO's text carries, in the code's own words.
func TestKakaoAdDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "partner-v1.openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{KakaoAdPrefix, KakaoOptOut, "KAKAO_QUIET_HOURS"} {
		if !strings.Contains(string(doc), want) {
			t.Errorf("docs/partner-v1.openapi.yaml does not mention %q", want)
		}
	}
}
