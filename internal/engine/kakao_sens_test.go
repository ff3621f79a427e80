package engine_test

// KAKAO over the kakao-sens protocol end to end: the simulator's SENS brand message emulation over HTTP,
// the store's Kakao channel decrypted from Postgres, River, the send checkpoint.

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const (
	sensTestService = "ncp:kkobizmsg:kr:2700001:sens"
	sensTestAccess  = "ncpEngineAccessKey01"
	sensTestSecret  = "engine-test-sens-secret-key-0123456789ab"
	kakaoTestFriend = "@engine-bakery"
	kakaoTestSender = "sk-engine-0001"
)

type kakaoHarness struct{ *accountHarness }

func newKakaoHarness(t *testing.T, fail string) *kakaoHarness {
	t.Helper()
	return &kakaoHarness{newAccountHarness(t, fail, model.ChannelKakao, channels.Options{PollInterval: 2 * time.Millisecond},
		func(sim *simulator.Server, base string) channels.Endpoint {
			sim.RegisterSENSProject(sensTestService, sensTestAccess, []byte(sensTestSecret))
			sim.RegisterKakaoChannel(kakaoTestFriend)
			return channels.Endpoint{URL: base, Protocol: channels.ProtocolKakaoSENS, ServiceID: sensTestService, AccessKey: sensTestAccess, Secret: []byte(sensTestSecret)}
		})}
}

// connect creates store s1 with a KAKAO account (`account set` credentials).
func (h *kakaoHarness) connect() {
	h.connectStore(model.ChannelKakao, `{"senderKey":"`+kakaoTestSender+`","plusFriendId":"`+kakaoTestFriend+`","recipients":["01011112222","010-3333-4444","01055556666"]}`)
}

func (h *kakaoHarness) start(id string) {
	h.startEvent(model.ChannelKakao, id, "봄맞이 세일 "+id, "전 품목 20% 할인", "https://img.example.com/a.jpg", "s1")
}

func TestKakaoSENSEngine(t *testing.T) {
	t.Parallel()
	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "")
		h.connect()
		h.start("k1")
		h.waitOverall("k1", "COMPLETED")
		c := h.channel("k1", model.ChannelKakao)
		if c.MessageID == nil || !strings.HasPrefix(*c.MessageID, "RSENS") || c.EstimatedViews == nil || *c.EstimatedViews != 3 {
			t.Errorf("channel %+v: want the SENS requestId and 3 recipients", c)
		}
		contents := h.sim.KakaoContents(kakaoTestFriend)
		if h.sim.KakaoSends(kakaoTestFriend) != 1 || len(contents) != 3 || !strings.HasPrefix(contents[0], "(광고) 봄맞이 세일 k1") || !strings.HasSuffix(contents[0], channels.KakaoOptOut) {
			t.Errorf("sends %d contents %q", h.sim.KakaoSends(kakaoTestFriend), contents)
		}
	})
	t.Run("send answer lost sends once", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "KAKAO=send-lost")
		h.connect()
		h.start("k2")
		h.waitOverall("k2", "COMPLETED")
		if n := h.sim.KakaoSends(kakaoTestFriend); n != 1 {
			t.Errorf("sends %d: want exactly one", n)
		}
		if got := h.attempts("k2", model.ChannelKakao); len(got) != 2 {
			t.Errorf("attempts %v: want the lost answer, then the recovery", got)
		}
	})
	t.Run("throttled twice", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "KAKAO=throttlex2")
		h.connect()
		h.start("k3")
		h.waitOverall("k3", "COMPLETED")
		if got := fmt.Sprint(h.attempts("k3", model.ChannelKakao)); got != "[system/snoozed/429 system/snoozed/429 system/success/-]" {
			t.Errorf("attempts %s: want two snoozes, no attempt burned", got)
		}
		var attempt int
		if err := h.store.Pool.QueryRow(context.Background(), `SELECT attempt FROM river_job WHERE kind = $1 ORDER BY id DESC LIMIT 1`, db.PublishJobKind).Scan(&attempt); err != nil || attempt != 1 {
			t.Errorf("river attempt %d (%v), want 1", attempt, err)
		}
		if h.sim.KakaoSends(kakaoTestFriend) != 1 {
			t.Errorf("sends %d", h.sim.KakaoSends(kakaoTestFriend))
		}
	})
	t.Run("dealer auth failure", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "KAKAO=auth")
		h.connect()
		h.start("k4")
		h.waitOverall("k4", "FAILED")
		if got := fmt.Sprint(h.attempts("k4", model.ChannelKakao)); got != "[system/failed/401]" {
			t.Errorf("attempts %s: want one attempt, no automatic retry", got)
		}
		accts, err := h.store.FindChannelAccounts(context.Background(), "s1")
		if err != nil || len(accts) != 1 || accts[0].Status != model.AccountNeedsReconnect || !strings.Contains(accts[0].LastError, "SENS code 200") || strings.Contains(accts[0].LastError, sensTestSecret) {
			t.Fatalf("accounts %+v %v: want needs_reconnect with the dealer's code", accts, err)
		}
		_, err = h.eng.RetryChannel(context.Background(), "k4", model.ChannelKakao, "marketer@x")
		if model.ErrorCode(err) != model.ENEEDSRECONNECT || model.HTTPStatus(model.ErrorCode(err)) != 409 {
			t.Fatalf("retry = %v, want 409 needs_reconnect", err)
		}
		h.sim.SetFail(nil)
		h.connect()
		if _, err := h.eng.RetryChannel(context.Background(), "k4", model.ChannelKakao, "marketer@x"); err != nil {
			t.Fatalf("retry after reconnecting: %v", err)
		}
		h.waitOverall("k4", "COMPLETED")
		if h.sim.KakaoSends(kakaoTestFriend) != 1 {
			t.Errorf("sends %d", h.sim.KakaoSends(kakaoTestFriend))
		}
	})
}
