package app

import (
	"context"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/partnersig"
)

// storeAccounts is what the stores pages write (handlers.StoreAccounts): the database with the
// credentials' key.
type storeAccounts struct {
	db     *db.DB
	sealer db.Sealer // nil: no SECRETS_KEY; connecting is refused, naming it
}

func (s storeAccounts) CreateOAuthState(ctx context.Context, st model.OAuthState, ttl time.Duration) error {
	return s.db.CreateOAuthState(ctx, st, ttl)
}

func (s storeAccounts) TakeOAuthState(ctx context.Context, hash []byte, userID int64, sessionID string) (model.OAuthState, error) {
	return s.db.TakeOAuthState(ctx, hash, userID, sessionID)
}

func (s storeAccounts) ConnectChannelAccount(ctx context.Context, storeID string, c model.Credentials, audit model.AuditEntry) (model.ChannelAccount, error) {
	if s.sealer == nil {
		return model.ChannelAccount{}, model.Errorf(model.EUNAVAILABLE, "SECRETS_KEY is not set: channel credentials cannot be stored")
	}
	return s.db.SetChannelAccount(ctx, storeID, c, s.sealer, audit)
}

func (s storeAccounts) DisconnectChannelAccount(ctx context.Context, storeID string, ch model.Channel, audit model.AuditEntry) (model.ChannelAccount, error) {
	return s.db.DisconnectChannelAccount(ctx, storeID, ch, audit)
}

// oauthConnector gives the handlers the channels' OAuth flows, read from the registry when asked
// (the embedded simulator's registry exists once Start has it listening).
type oauthConnector struct{ a *App }

func (o oauthConnector) OAuthFlow(ch model.Channel) (handlers.OAuthFlow, bool) {
	if o.a.channels == nil {
		return nil, false
	}
	c, ok := o.a.channels.OAuth(ch)
	if !ok {
		return nil, false
	}
	return c, true
}

// simInstagramClientID is the embedded simulator's Instagram application (its secret is fresh at
// every start, given to both sides like the partner secrets).
const simInstagramClientID = "sim-instagram-app"

// simulatorOAuth gives the embedded simulator's registry its OAuth endpoints: INSTAGRAM and
// NAVER accounts connect through the simulator's consent pages and token endpoints. NAVER's
// application is the one its adapter renews tokens with (newEmbeddedSimulator), as on Naver.
func (a *App) simulatorOAuth(base string) {
	for ch, ep := range map[model.Channel]channels.Endpoint{
		model.ChannelInstagram: {URL: base, AuthorizeURL: base + "/oauth/authorize", TokenURL: base + "/oauth/access_token",
			ClientID: simInstagramClientID, ClientSecret: channels.ClientSecret(partnersig.NewSecret())},
		model.ChannelNaver: {URL: base, AuthorizeURL: base + "/oauth2.0/authorize", TokenURL: base + "/oauth2.0/token",
			ClientID: a.simShared.NaverClientID, ClientSecret: a.simShared.NaverClientSecret},
	} {
		a.Simulator.RegisterOAuthClient(ch, ep.ClientID, string(ep.ClientSecret))
		a.channels.AddOAuth(ch, ep)
	}
}
