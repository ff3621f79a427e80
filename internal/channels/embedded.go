package channels

// The embedded simulator's registry (CHANNELS_CONFIG unset): every channel speaks its real
// protocol against the simulator — INSTAGRAM instagram-graph, NAVER naver-cafe, KAKAO
// kakao-sens, the three partner channels partner-v1 — so `make run` exercises the adapters that
// production uses.
//
// One simulator-only convenience keeps events without a store publishing: an account channel
// (INSTAGRAM, NAVER, KAKAO) is a simRoute, an OptionalAccountAdapter. The engine gives it the
// store's account when the store has a row for the channel, and the route publishes through the
// real protocol as that account; with no store, or no account row, the route publishes through
// the simulator's partner-v1 path instead. An account that exists but is disconnected, needs a
// reconnect or expired is no fallback: the pre-flight check refuses it as with CHANNELS_CONFIG,
// where a missing account also stays unavailable (no route there, the adapters are the real ones).

import (
	"context"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// OptionalAccountAdapter is an AccountAdapter that also publishes without an account (only the
// embedded simulator's routes): the engine attaches the store's account when one exists, and
// the pre-flight check does not refuse an event without a store or an account row.
type OptionalAccountAdapter interface {
	AccountAdapter
	AccountOptional() bool
}

// EmbeddedSimulator is what both sides of the embedded simulator share: the partner-v1 secrets,
// the SENS project and the Naver application's client credentials, all fresh at every start.
type EmbeddedSimulator struct {
	Secrets           map[model.Channel]partnersig.Secret // partner-v1, per channel
	SENSServiceID     string
	SENSAccessKey     string
	SENSSecret        partnersig.Secret
	NaverClientID     string
	NaverClientSecret ClientSecret
	// Enroll, when set, is called with a store's account before the route publishes or reads a
	// quota as it: the embedded simulator stands for the platforms where the stores' accounts
	// were connected, so it learns each account (token, cafe, KakaoTalk channel) the database
	// holds. Never called without an account.
	Enroll func(ch model.Channel, acct Account)
}

// GraphVersion is the Instagram Graph API version the embedded simulator is spoken to with.
const GraphVersion = "v23.0"

// NewEmbeddedSimulatorRegistry points every channel at the embedded simulator at baseURL with its
// real protocol (file comment) and permits loopback connections.
func NewEmbeddedSimulatorRegistry(baseURL string, sim EmbeddedSimulator, opts Options) *Registry {
	opts.AllowInsecureLoopback = true
	endpoints := map[model.Channel]Endpoint{}
	for _, ch := range model.AllChannels {
		endpoints[ch] = Endpoint{URL: baseURL, Secret: sim.Secrets[ch]}
	}
	r := NewRegistry(endpoints, opts) // partner-v1 everywhere: the fallbacks
	real := map[model.Channel]AccountAdapter{
		model.ChannelInstagram: newGraphAdapter(model.ChannelInstagram, Endpoint{URL: baseURL, Protocol: ProtocolInstagramGraph, Version: GraphVersion},
			r.client, r.opts, r.logger),
		model.ChannelNaver: newNaverAdapter(model.ChannelNaver, Endpoint{URL: baseURL, Protocol: ProtocolNaverCafe, TokenURL: baseURL + "/oauth2.0/token",
			ClientID: sim.NaverClientID, ClientSecret: sim.NaverClientSecret}, r.client, r.opts, r.logger),
		model.ChannelKakao: newSENSAdapter(model.ChannelKakao, Endpoint{URL: baseURL, Protocol: ProtocolKakaoSENS, ServiceID: sim.SENSServiceID,
			AccessKey: sim.SENSAccessKey, Secret: sim.SENSSecret}, r.client, r.opts, r.logger),
	}
	r.routes = map[model.Channel]Adapter{}
	for ch, a := range real {
		route := &simRoute{ch: ch, real: a, fallback: r.adapters[ch], enroll: sim.Enroll}
		switch a.(type) {
		case *GraphAdapter: // quota, token upkeep and insights
			r.routes[ch] = &simGraphRoute{simRefreshRoute{route}}
		case *NaverAdapter: // token upkeep
			r.routes[ch] = &simRefreshRoute{route}
		default:
			r.routes[ch] = route
		}
	}
	return r
}

// simRoute publishes as the store's account through the channel's real protocol, or through
// partner-v1 when the event has no account for the channel (file comment).
type simRoute struct {
	ch       model.Channel
	real     AccountAdapter
	fallback Adapter
	enroll   func(model.Channel, Account)
}

// Publish implements Adapter.
func (s *simRoute) Publish(ctx context.Context, req Request, progress func(pct int)) (Result, error) {
	if req.Account == nil {
		req.Checkpoint = nil // partner-v1 keeps its state in the idempotency key
		return s.fallback.Publish(ctx, req, progress)
	}
	s.learn(*req.Account)
	return s.real.Publish(ctx, req, progress)
}

// learn tells the simulator the account it is about to be reached as (simulator.EnrollAccount):
// it learns the stores' accounts from what the database holds, also after a restart.
func (s *simRoute) learn(acct Account) {
	if s.enroll != nil {
		s.enroll(s.ch, acct)
	}
}

// NeedsAccount implements AccountAdapter: the engine attaches the store's account when it has one.
func (s *simRoute) NeedsAccount() bool { return true }

// AccountOptional implements OptionalAccountAdapter.
func (s *simRoute) AccountOptional() bool { return true }

// simRefreshRoute is a simRoute whose real protocol renews tokens (instagram-graph, naver-cafe):
// the token upkeep reaches the simulator as the account, which it learns first (as it does
// before a publish), so a restarted embedded simulator renews the token the database holds.
type simRefreshRoute struct{ *simRoute }

// RefreshDue implements TokenRefresher.
func (s *simRefreshRoute) RefreshDue(creds []byte, issued time.Time, expires *time.Time, now time.Time) bool {
	return s.real.(TokenRefresher).RefreshDue(creds, issued, expires, now)
}

// RefreshToken implements TokenRefresher.
func (s *simRefreshRoute) RefreshToken(ctx context.Context, acct Account) (Refreshed, *Error) {
	s.learn(acct)
	return s.real.(TokenRefresher).RefreshToken(ctx, acct)
}

// simGraphRoute is instagram-graph's route: token upkeep (simRefreshRoute), the publishing quota
// and the posts' insights.
type simGraphRoute struct{ simRefreshRoute }

// PublishingQuota implements QuotaAdapter.
func (s *simGraphRoute) PublishingQuota(ctx context.Context, acct Account) (Quota, error) {
	s.learn(acct)
	return s.real.(QuotaAdapter).PublishingQuota(ctx, acct)
}

// MeasureViews implements ViewsMeasurer.
func (s *simGraphRoute) MeasureViews(ctx context.Context, acct Account, postID string) (Views, *Error) {
	s.learn(acct)
	return s.real.(ViewsMeasurer).MeasureViews(ctx, acct, postID)
}

var (
	_ TokenRefresher         = (*simRefreshRoute)(nil)
	_ TokenRefresher         = (*simGraphRoute)(nil)
	_ ViewsMeasurer          = (*simGraphRoute)(nil)
	_ QuotaAdapter           = (*simGraphRoute)(nil)
	_ OptionalAccountAdapter = (*simGraphRoute)(nil)
	_ OptionalAccountAdapter = (*simRoute)(nil)
)
