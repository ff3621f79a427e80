package engine_test

// KAKAO brand message targeting end to end: the account's targeting (from `account set`) goes
// to the simulator's SENS brand message emulation; a targeting that reaches nobody fails the
// channel permanently with the dealer's message result, without automatic retries.

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

func TestKakaoBrandTargetingEngine(t *testing.T) {
	t.Parallel()
	t.Run("M reaches consented non-friends", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "")
		h.sim.SetKakaoNonFriends(kakaoTestFriend, []string{"01011112222", "01033334444"}, true)
		h.connectStore(model.ChannelKakao, `{"senderKey":"`+kakaoTestSender+`","plusFriendId":"`+kakaoTestFriend+`","recipients":["01011112222","010-3333-4444"],"targeting":"M"}`)
		h.start("t1")
		h.waitOverall("t1", "COMPLETED")
		c := h.channel("t1", model.ChannelKakao)
		if c.EstimatedViews == nil || *c.EstimatedViews != 2 || fmt.Sprint(h.sim.KakaoTargetings(kakaoTestFriend)) != "[M]" {
			t.Errorf("channel %+v, targetings %v", c, h.sim.KakaoTargetings(kakaoTestFriend))
		}
	})
	t.Run("I reaching no friend fails once", func(t *testing.T) {
		t.Parallel()
		h := newKakaoHarness(t, "")
		h.sim.SetKakaoNonFriends(kakaoTestFriend, []string{"01011112222"}, true)
		h.connectStore(model.ChannelKakao, `{"senderKey":"`+kakaoTestSender+`","plusFriendId":"`+kakaoTestFriend+`","recipients":["01011112222"]}`)
		h.start("t2")
		h.waitOverall("t2", "FAILED")
		if got := fmt.Sprint(h.attempts("t2", model.ChannelKakao)); got != "[system/failed/-]" {
			t.Errorf("attempts %s: want one permanent failure", got)
		}
		c := h.channel("t2", model.ChannelKakao)
		var detail string
		if err := h.store.Pool.QueryRow(context.Background(), `SELECT COALESCE(error, '') FROM channel_attempts WHERE event_id = 't2' AND channel = 'KAKAO'`).Scan(&detail); err != nil {
			t.Fatal(err)
		}
		if c.ErrorMessage == nil || !strings.Contains(*c.ErrorMessage, "targeting") || !strings.Contains(detail, "SIM-TARGETING") || h.sim.KakaoSends(kakaoTestFriend) != 1 {
			t.Errorf("error %v, attempt error %q, sends %d", c.ErrorMessage, detail, h.sim.KakaoSends(kakaoTestFriend))
		}
	})
}
