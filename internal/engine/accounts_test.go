package engine_test

// INSTAGRAM over the instagram-graph protocol end to end: the simulator's Graph API emulation
// over HTTP, the store's account decrypted from Postgres, River, the container checkpoint.

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/engine"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
)

const (
	igTestUser  = "17841400000000042"
	igTestToken = "IGAA-engine-test-token"
)

// accountHarness is an engine whose channel speaks a platform protocol (one that publishes as a
// store's account) to a simulator, with a fresh keyring for the accounts' credentials.
type accountHarness struct {
	*harness
	sim  *simulator.Server
	ring *secrets.Keyring
}

// newAccountHarness starts a simulator with the fault rules fail; setup registers what the
// platform knows (accounts, projects) and returns the channel's endpoint at base.
func newAccountHarness(t *testing.T, fail string, ch model.Channel, opts channels.Options,
	setup func(sim *simulator.Server, base string) channels.Endpoint) *accountHarness {
	t.Helper()
	sim, base := startSimulator(t, fail)
	opts.AllowInsecureLoopback = true
	reg := channels.NewRegistry(map[model.Channel]channels.Endpoint{ch: setup(sim, base)}, opts)
	t.Cleanup(reg.Close)
	key := make([]byte, 32)
	rand.Read(key)
	ring, err := secrets.New(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessOpts(t, engine.Config{Workers: 4, MaxAttempts: 3, SnoozeCap: 5 * time.Millisecond}, nil,
		engine.Options{Adapters: reg.Adapter, Sealer: ring})
	return &accountHarness{harness: h, sim: sim, ring: ring}
}

// connectStore creates store s1 (once) and sets its account of ch from `account set` JSON.
func (h *accountHarness) connectStore(ch model.Channel, credJSON string) {
	h.t.Helper()
	ctx := context.Background()
	if _, err := h.store.FindStoreByID(ctx, "s1"); err != nil {
		if _, err := h.store.CreateStore(ctx, model.Store{ID: "s1", Name: "우리동네 빵집"}, model.AuditEntry{Actor: "admin@x"}); err != nil {
			h.t.Fatal(err)
		}
	}
	cred, err := model.ParseCredentials(ch, []byte(credJSON))
	if err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.store.SetChannelAccount(ctx, "s1", cred, h.ring, model.AuditEntry{Actor: "admin@x"}); err != nil {
		h.t.Fatal(err)
	}
}

// startEvent inserts event id (of store, nil for none) and starts ch.
func (h *accountHarness) startEvent(ch model.Channel, id, title, desc, image string, store any) {
	h.t.Helper()
	if _, err := h.store.Pool.Exec(context.Background(), `INSERT INTO events (id, title, description, image_url, store_id)
		VALUES ($1, $2, $3, $4, $5)`, id, title, desc, image, store); err != nil {
		h.t.Fatal(err)
	}
	if _, err := h.eng.StartDistribution(context.Background(), id, []model.Channel{ch}, "marketer@x"); err != nil {
		h.t.Fatal(err)
	}
}

type igHarness struct{ *accountHarness }

func newIGHarness(t *testing.T, fail string) *igHarness {
	t.Helper()
	return &igHarness{newAccountHarness(t, fail, model.ChannelInstagram, channels.Options{PollInterval: 2 * time.Millisecond},
		func(sim *simulator.Server, base string) channels.Endpoint {
			sim.RegisterInstagramAccount(igTestUser, igTestToken)
			return channels.Endpoint{URL: base, Protocol: channels.ProtocolInstagramGraph, Version: "v23.0"}
		})}
}

// connect creates store s1 with an INSTAGRAM account.
func (h *igHarness) connect() {
	h.connectStore(model.ChannelInstagram, `{"igUserId":"`+igTestUser+`","accessToken":"`+igTestToken+`"}`)
}

// startIG creates an event of store s1 (or of no store) and starts INSTAGRAM.
func (h *igHarness) startIG(id string, withStore bool) {
	h.t.Helper()
	store := any(nil)
	if withStore {
		store = "s1"
	}
	h.startEvent(model.ChannelInstagram, id, "봄맞이 세일 "+id, "전 품목 20% 할인", "https://img.example.com/a.jpg", store)
}

func (h *igHarness) account() model.ChannelAccount {
	h.t.Helper()
	accts, err := h.store.FindChannelAccounts(context.Background(), "s1")
	if err != nil || len(accts) != 1 {
		h.t.Fatalf("accounts %v %v", accts, err)
	}
	return accts[0]
}

func TestInstagramGraphEngine(t *testing.T) {
	t.Parallel()
	t.Run("happy path", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "")
		h.connect()
		h.startIG("ig1", true)
		h.waitOverall("ig1", "COMPLETED")
		c := h.channel("ig1", model.ChannelInstagram)
		if c.PostID == nil || c.PostURL == nil || !strings.HasPrefix(*c.PostURL, "https://www.instagram.com/p/") {
			t.Errorf("channel %+v: want the media id and permalink", c)
		}
		if h.sim.InstagramPosts(igTestUser) != 1 || h.count(`SELECT count(*) FROM publish_checkpoints`) != 1 {
			t.Errorf("posts %d, checkpoints %d", h.sim.InstagramPosts(igTestUser), h.count(`SELECT count(*) FROM publish_checkpoints`))
		}
	})
	t.Run("container error makes a new container", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "INSTAGRAM=container-error")
		h.connect()
		h.startIG("ig2", true)
		h.waitOverall("ig2", "COMPLETED")
		if got := fmt.Sprint(h.attempts("ig2", model.ChannelInstagram)); got != "[system/retry/- auto-retry/success/-]" {
			t.Errorf("attempts %s", got)
		}
		if h.sim.InstagramContainers(igTestUser) != 2 || h.sim.InstagramPosts(igTestUser) != 1 {
			t.Errorf("containers %d posts %d", h.sim.InstagramContainers(igTestUser), h.sim.InstagramPosts(igTestUser))
		}
	})
	t.Run("publish lost posts once", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "INSTAGRAM=publish-lost")
		h.connect()
		h.startIG("ig3", true)
		h.waitOverall("ig3", "COMPLETED")
		if h.sim.InstagramPosts(igTestUser) != 1 || h.sim.InstagramContainers(igTestUser) != 1 {
			t.Errorf("posts %d containers %d: want exactly one post", h.sim.InstagramPosts(igTestUser), h.sim.InstagramContainers(igTestUser))
		}
		if got := h.attempts("ig3", model.ChannelInstagram); len(got) != 2 {
			t.Errorf("attempts %v: want the lost answer, then the recovery", got)
		}
		if c := h.channel("ig3", model.ChannelInstagram); c.PostID == nil || c.PostURL == nil {
			t.Errorf("channel %+v: want the found post", c)
		}
	})
	t.Run("throttled twice", func(t *testing.T) {
		t.Parallel()
		// The start's pre-flight quota read is the first Graph call and takes the first 613 (it
		// fails open); the job's next two calls are throttled.
		h := newIGHarness(t, "INSTAGRAM=613x3")
		h.connect()
		h.startIG("ig4", true)
		h.waitOverall("ig4", "COMPLETED")
		if got := fmt.Sprint(h.attempts("ig4", model.ChannelInstagram)); got != "[system/snoozed/400 system/snoozed/400 system/success/-]" {
			t.Errorf("attempts %s: want two snoozes, no attempt burned", got)
		}
		var attempt int
		if err := h.store.Pool.QueryRow(context.Background(), `SELECT attempt FROM river_job WHERE kind = $1 ORDER BY id DESC LIMIT 1`, db.PublishJobKind).Scan(&attempt); err != nil || attempt != 1 {
			t.Errorf("river attempt %d (%v), want 1 (snoozes give it back)", attempt, err)
		}
	})
	t.Run("expired token", func(t *testing.T) {
		t.Parallel()
		h := newIGHarness(t, "INSTAGRAM=190")
		h.connect()
		h.startIG("ig5", true)
		h.waitOverall("ig5", "FAILED")
		if got := fmt.Sprint(h.attempts("ig5", model.ChannelInstagram)); got != "[system/failed/400]" {
			t.Errorf("attempts %s: want one attempt, no automatic retry", got)
		}
		c := h.channel("ig5", model.ChannelInstagram)
		if c.ErrorMessage == nil || !strings.Contains(*c.ErrorMessage, "reconnect the Instagram account") {
			t.Errorf("error message %v", c.ErrorMessage)
		}
		if store, ok := c.ReconnectStore(); !ok || store != "s1" {
			t.Errorf("error message %q does not name the store to reconnect (card link): %q %v", *c.ErrorMessage, store, ok)
		}
		a := h.account()
		if a.Status != model.AccountNeedsReconnect || !strings.Contains(a.LastError, "code 190") || strings.Contains(a.LastError, igTestToken) {
			t.Errorf("account %+v: want needs_reconnect with the platform's error", a)
		}
		_, err := h.eng.RetryChannel(context.Background(), "ig5", model.ChannelInstagram, "marketer@x")
		if model.ErrorCode(err) != model.ENEEDSRECONNECT || model.HTTPStatus(model.ErrorCode(err)) != 409 {
			t.Fatalf("retry while the account needs reconnecting = %v, want 409 needs_reconnect", err)
		}
		if got := h.attempts("ig5", model.ChannelInstagram); len(got) != 1 {
			t.Errorf("the refused retry ran an attempt: %v", got)
		}
		// Reconnected (and the platform accepts the token again): the retry is accepted and publishes.
		h.sim.SetFail(nil)
		h.connect()
		if _, err := h.eng.RetryChannel(context.Background(), "ig5", model.ChannelInstagram, "marketer@x"); err != nil {
			t.Fatalf("retry after reconnecting: %v", err)
		}
		h.waitOverall("ig5", "COMPLETED")
		if h.sim.InstagramPosts(igTestUser) != 1 {
			t.Errorf("posts %d", h.sim.InstagramPosts(igTestUser))
		}
	})
	t.Run("no account", func(t *testing.T) {
		t.Parallel()
		// The pre-flight check refuses the start up front (preflight.go): nothing is written.
		h := newIGHarness(t, "")
		if _, err := h.store.Pool.Exec(context.Background(), `INSERT INTO events (id, title, image_url) VALUES ('ig6', 't', 'https://img.example.com/a.jpg')`); err != nil {
			t.Fatal(err)
		}
		_, err := h.eng.StartDistribution(context.Background(), "ig6", []model.Channel{model.ChannelInstagram}, "marketer@x")
		var ue *model.UnavailableError
		if !errors.As(err, &ue) || ue.Checks[0].Reason != model.PreflightNoStore {
			t.Fatalf("start without a store = %v, want refused no_store", err)
		}
		if n := h.count(`SELECT count(*) FROM channel_status WHERE event_id = 'ig6'`); n != 0 {
			t.Errorf("%d channel rows", n)
		}
	})
}

// startSimulator starts a channel simulator with the fault rules fail (SIMULATOR_FAIL's form) on
// a loopback port, stopped with the test, and returns it with its base URL.
func startSimulator(t *testing.T, fail string) (*simulator.Server, string) {
	t.Helper()
	rules, err := simulator.ParseFail(fail)
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(simulator.Config{Fail: rules})
	base, stop, err := sim.StartLocal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return sim, base
}
