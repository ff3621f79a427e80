package model

import (
	"strings"
	"time"
)

// OAuthState is one authorization-code flow a manager started from a store's page to connect a
// channel account (db/oauth_states.go). The state sent to the platform is random; only its
// SHA-256 (StateHash) is stored. It is bound to the manager's user and session, to the store and
// channel, and to the redirect URI the code must be exchanged with; it is taken once.
type OAuthState struct {
	StateHash   []byte
	UserID      int64
	SessionID   string
	StoreID     string
	Channel     Channel
	RedirectURI string
	// ClubID and MenuID are the Naver cafe board the connect form asked for (digits).
	ClubID, MenuID string
	// Reconnect is true when the store already had an account on the channel (the audit action).
	Reconnect bool
	ExpiresAt time.Time
}

// OAuthToken is what a platform's token endpoint granted at the end of an authorization-code
// flow. AccountID is the platform's account id when the platform says it (Instagram's user_id).
// It is never logged or shown: it holds the tokens.
type OAuthToken struct {
	AccountID    string
	AccessToken  string
	RefreshToken string
	ExpiresAt    *time.Time
}

// Audit actions of the stores pages' account connections. Their details never hold credentials.
const (
	AuditAccountConnect    = "account.connect"
	AuditAccountReconnect  = "account.reconnect"
	AuditAccountDisconnect = "account.disconnect"
)

// reconnectPrefix starts the error message of a channel that FAILED because the store's account
// must be reconnected (channels.NeedsReconnect): "account needs reconnecting (store S1): …". The
// channel card reads the store from it to link managers to the store's page.
const reconnectPrefix = "account needs reconnecting (store "

// ReconnectPrefix is the prefix of the error message of a channel failed because storeID's
// account must be reconnected.
func ReconnectPrefix(storeID string) string { return reconnectPrefix + storeID + "): " }

// ReconnectStore reports whether c FAILED because its store's account must be reconnected, and
// that store's id.
func (c ChannelState) ReconnectStore() (string, bool) {
	if c.Status != StatusFailed || c.ErrorMessage == nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(*c.ErrorMessage, reconnectPrefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "): ")
	if !ok || !ValidEventID(id) {
		return "", false
	}
	return id, true
}
