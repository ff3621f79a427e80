package engine_test

// NAVER over the naver-cafe protocol end to end: the simulator's Cafe API and token endpoint over
// HTTP, the store's account decrypted from Postgres (and re-encrypted after a refresh), River.

import (
	"context"
	"encoding/json"
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
	nvClub    = "31200001"
	nvMenu    = "7"
	nvAccess  = "AAAAnaver-engine-access"
	nvRefresh = "naver-engine-refresh"
)

type nvHarness struct{ *accountHarness }

func newNaverHarness(t *testing.T, fail string) *nvHarness {
	t.Helper()
	return &nvHarness{newAccountHarness(t, fail, model.ChannelNaver, channels.Options{},
		func(sim *simulator.Server, base string) channels.Endpoint {
			sim.RegisterNaverAccount(nvClub, nvMenu, nvAccess, nvRefresh)
			return channels.Endpoint{URL: base, Protocol: channels.ProtocolNaverCafe, TokenURL: base + "/oauth2.0/token", ClientID: "sim-client", ClientSecret: "sim-secret"}
		})}
}

func (h *nvHarness) connect(access string) {
	h.connectStore(model.ChannelNaver, `{"clubId":"`+nvClub+`","menuId":`+nvMenu+`,"accessToken":"`+access+`","refreshToken":"`+nvRefresh+`"}`)
}

func (h *nvHarness) start(id, title, desc string) {
	h.startEvent(model.ChannelNaver, id, title, desc, "https://img.example.com/a.jpg?x=1&y=2", "s1")
}

func (h *nvHarness) account() (model.ChannelAccount, map[string]string) {
	h.t.Helper()
	secret, a, err := h.store.AccountCredentials(context.Background(), "s1", model.ChannelNaver, h.ring)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(secret, &m); err != nil {
		h.t.Fatal(err)
	}
	return a, m
}

func TestNaverCafeEngine(t *testing.T) {
	t.Parallel()
	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		h := newNaverHarness(t, "")
		h.connect(nvAccess)
		// '%' and '+' survive only if both sides apply the guide's double URL encoding.
		h.start("nv1", "봄맞이 세일 100% + 1+1", "전 품목 20% 할인\n<b>오늘만</b> a+b")
		h.waitOverall("nv1", "COMPLETED")
		c := h.channel("nv1", model.ChannelNaver)
		if c.PostID == nil || *c.PostID != "1" || c.PostURL == nil || *c.PostURL != "https://cafe.naver.com/simcafe"+nvClub+"/1" {
			t.Errorf("channel %+v: want articleId and articleUrl", c)
		}
		subject, content, ok := h.sim.NaverArticle(nvClub, 0)
		if !ok || subject != "봄맞이 세일 100% + 1+1" {
			t.Errorf("subject %q", subject)
		}
		want := `<p>전 품목 20% 할인<br>&lt;b&gt;오늘만&lt;/b&gt; a+b</p><p><a href="https://img.example.com/a.jpg?x=1&amp;y=2">https://img.example.com/a.jpg?x=1&amp;y=2</a></p>`
		if content != want {
			t.Errorf("content %q\nwant    %q", content, want)
		}
		if h.sim.NaverArticles(nvClub) != 1 || h.sim.NaverRefreshes() != 0 {
			t.Errorf("articles %d refreshes %d", h.sim.NaverArticles(nvClub), h.sim.NaverRefreshes())
		}
	})
	t.Run("expired token is refreshed and stored encrypted", func(t *testing.T) {
		t.Parallel()
		h := newNaverHarness(t, "NAVER=024")
		h.connect(nvAccess)
		h.start("nv2", "세일", "설명")
		h.waitOverall("nv2", "COMPLETED")
		if got := fmt.Sprint(h.attempts("nv2", model.ChannelNaver)); got != "[system/success/-]" {
			t.Errorf("attempts %s: want one attempt (refresh within it)", got)
		}
		if h.sim.NaverRefreshes() != 1 || h.sim.NaverArticles(nvClub) != 1 {
			t.Errorf("refreshes %d articles %d", h.sim.NaverRefreshes(), h.sim.NaverArticles(nvClub))
		}
		a, m := h.account()
		if m["accessToken"] == nvAccess || !strings.HasPrefix(m["accessToken"], "sim-naver-access-1") || m["refreshToken"] != nvRefresh || m["clubId"] != nvClub {
			t.Errorf("stored credentials %v: want the new access token", m)
		}
		exp, err := time.Parse(time.RFC3339, m["expiresAt"])
		if a.Status != model.AccountConnected || err != nil || time.Until(exp) < 50*time.Minute {
			t.Errorf("account %+v, expiresAt %q: want connected, the token's hour in the credentials", a, m["expiresAt"])
		}
		if n := h.count(`SELECT count(*) FROM channel_accounts WHERE position($1::bytea in credentials) > 0`, []byte(m["accessToken"])); n != 0 {
			t.Errorf("the new token is stored in clear")
		}
		// The next publication uses the stored token: no second refresh.
		h.start("nv2b", "세일2", "설명")
		h.waitOverall("nv2b", "COMPLETED")
		if h.sim.NaverRefreshes() != 1 {
			t.Errorf("refreshes %d: the renewed token was not reused", h.sim.NaverRefreshes())
		}
	})
	t.Run("refresh refused needs reconnect", func(t *testing.T) {
		t.Parallel()
		h := newNaverHarness(t, "NAVER=refresh-fail")
		h.sim.ExpireNaverToken(nvAccess)
		h.connect(nvAccess)
		h.start("nv3", "세일", "설명")
		h.waitOverall("nv3", "FAILED")
		if got := h.attempts("nv3", model.ChannelNaver); len(got) != 1 {
			t.Errorf("attempts %v: want one, no automatic retry", got)
		}
		c := h.channel("nv3", model.ChannelNaver)
		if c.ErrorMessage == nil || !strings.Contains(*c.ErrorMessage, "reconnect the Naver Cafe account") {
			t.Errorf("error message %v", c.ErrorMessage)
		}
		a, _ := h.account()
		if a.Status != model.AccountNeedsReconnect || !strings.Contains(a.LastError, "invalid_grant") || strings.Contains(a.LastError, nvRefresh) {
			t.Errorf("account %+v: want needs_reconnect with Naver's words", a)
		}
		_, err := h.eng.RetryChannel(context.Background(), "nv3", model.ChannelNaver, "marketer@x")
		if model.ErrorCode(err) != model.ENEEDSRECONNECT || model.HTTPStatus(model.ErrorCode(err)) != 409 {
			t.Fatalf("retry = %v, want 409 needs_reconnect", err)
		}
		if h.sim.NaverArticles(nvClub) != 0 {
			t.Errorf("articles %d", h.sim.NaverArticles(nvClub))
		}
	})
	t.Run("rate limited twice", func(t *testing.T) {
		t.Parallel()
		h := newNaverHarness(t, "NAVER=429x2")
		h.connect(nvAccess)
		h.start("nv4", "세일", "설명")
		h.waitOverall("nv4", "COMPLETED")
		if got := fmt.Sprint(h.attempts("nv4", model.ChannelNaver)); got != "[system/snoozed/429 system/snoozed/429 system/success/-]" {
			t.Errorf("attempts %s: want two snoozes, no attempt burned", got)
		}
		var attempt int
		if err := h.store.Pool.QueryRow(context.Background(), `SELECT attempt FROM river_job WHERE kind = $1 ORDER BY id DESC LIMIT 1`, db.PublishJobKind).Scan(&attempt); err != nil || attempt != 1 {
			t.Errorf("river attempt %d (%v), want 1", attempt, err)
		}
		if h.sim.NaverArticles(nvClub) != 1 {
			t.Errorf("articles %d", h.sim.NaverArticles(nvClub))
		}
	})
}

// TestNaverCafeRefreshKeepsANewerAccount: an account set again while an attempt renewed the old
// token is not overwritten by the renewed one.
func TestNaverCafeRefreshKeepsANewerAccount(t *testing.T) {
	t.Parallel()
	h := newNaverHarness(t, "")
	h.connect(nvAccess)
	_, before, err := h.store.AccountCredentials(context.Background(), "s1", model.ChannelNaver, h.ring)
	if err != nil {
		t.Fatal(err)
	}
	h.connect("AAAA-set-again")
	err = h.store.UpdateAccountCredentials(context.Background(), "s1", model.ChannelNaver, []byte(`{"accessToken":"stale"}`), nil, before.UpdatedAt, h.ring)
	if model.ErrorCode(err) != model.ENOTFOUND {
		t.Fatalf("update from stale credentials = %v, want ENOTFOUND", err)
	}
	if _, m := h.account(); m["accessToken"] != "AAAA-set-again" {
		t.Errorf("credentials %v: the newer account was overwritten", m)
	}
	_, now, _ := h.store.AccountCredentials(context.Background(), "s1", model.ChannelNaver, h.ring)
	if err := h.store.UpdateAccountCredentials(context.Background(), "s1", model.ChannelNaver, []byte(`{"accessToken":"fresh"}`), nil, now.UpdatedAt, h.ring); err != nil {
		t.Fatalf("update from current credentials = %v", err)
	}
	if _, m := h.account(); m["accessToken"] != "fresh" {
		t.Errorf("credentials %v", m)
	}
}
