package channels

// The kakao-sens wire format checked against NAVER Cloud's reference pages (see kakao_sens.go).

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

// TestKakaoSENSSendsIsAdBoolean: the send body types isAd as a JSON boolean, true (an ad), as
// https://api.ncloud-docs.com/docs/sens-friendtalk-send does; it was the string "true".
func TestKakaoSENSSendsIsAdBoolean(t *testing.T) {
	t.Parallel()
	sim := simulator.New(simulator.Config{})
	t.Cleanup(sim.Close)
	sim.RegisterSENSProject(sensService, sensAccess, []byte(sensSecret))
	sim.RegisterKakaoChannel(kakaoFriend)
	var (
		mu    sync.Mutex
		sends [][]byte
	)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			data, _ := io.ReadAll(r.Body)
			mu.Lock()
			sends = append(sends, data)
			mu.Unlock()
			r.Body = io.NopCloser(bytes.NewReader(data))
		}
		sim.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	opts := fastOpts()
	opts.AllowInsecureLoopback = true
	reg := NewRegistry(map[model.Channel]Endpoint{model.ChannelKakao: {URL: ts.URL, Protocol: ProtocolKakaoSENS,
		ServiceID: sensService, AccessKey: sensAccess, Secret: []byte(sensSecret)}}, opts)
	t.Cleanup(reg.Close)
	if _, err := reg.Adapter(model.ChannelKakao).Publish(context.Background(), kakaoRequest(&memCheckpoint{}, kakaoFriend), nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sends) != 1 {
		t.Fatalf("%d sends, want 1", len(sends))
	}
	var body struct {
		Messages []map[string]any `json:"messages"`
	}
	if err := json.Unmarshal(sends[0], &body); err != nil || len(body.Messages) != 2 {
		t.Fatalf("send body %s: %v", sends[0], err)
	}
	for i, m := range body.Messages {
		if ad, ok := m["isAd"].(bool); !ok || !ad {
			t.Errorf("message %d isAd = %#v, want the boolean true", i, m["isAd"])
		}
	}
}
