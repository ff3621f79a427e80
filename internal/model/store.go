package model

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Store is a shop that events belong to and that owns one account per channel (issue 14).
// Its id follows the event-id rules (ValidEventID).
type Store struct {
	ID        string
	Name      string
	CreatedAt time.Time
	CreatedBy string
	// Accounts are the store's channel accounts, public fields only, in channel display order.
	Accounts []ChannelAccount
}

// AccountStatus is a channel account's state.
type AccountStatus string

const (
	AccountConnected      AccountStatus = "connected"
	AccountExpiring       AccountStatus = "expiring"
	AccountNeedsReconnect AccountStatus = "needs_reconnect"
	AccountDisconnected   AccountStatus = "disconnected"
)

// ChannelAccount is the public part of a store's account on one channel: never its credentials,
// which only the engine reads, decrypted, through the db package.
type ChannelAccount struct {
	StoreID     string
	Channel     Channel
	AccountRef  string // the platform's account id (ig user id, "clubId/menuId", Kakao sender key)
	Status      AccountStatus
	ExpiresAt   *time.Time
	LastError   string
	ConnectedBy string
	ConnectedAt time.Time
	UpdatedAt   time.Time
}

// Audit actions of stores and accounts. Their details never hold credentials.
const (
	AuditStoreCreate = "store.create"
	AuditAccountSet  = "account.set"
	// AuditAccountRefresh is the token upkeep renewing an account's token (actor "system").
	AuditAccountRefresh = "account.refresh"
	// AuditAccountNeedsReconnect is the token upkeep finding an account's token dead.
	AuditAccountNeedsReconnect = "account.needs_reconnect"
)

// Credentials are a channel account's validated credential JSON (ParseCredentials): the secret
// JSON itself (to be encrypted), the public account ref and the token's expiry.
type Credentials struct {
	Channel    Channel
	AccountRef string
	ExpiresAt  *time.Time
	Secret     []byte // compact JSON; never logged, printed or stored unencrypted
}

// MaxCafeMembers bounds a NAVER account's members.
const MaxCafeMembers = 100_000_000

// maxCredentials bounds the credential JSON (tokens are at most a few hundred bytes).
const maxCredentials = 16 << 10

// AccountChannel reports whether ch publishes through a per-store account (Instagram, Naver,
// Kakao); the partner channels are reached with the deployment's partner secret instead.
func AccountChannel(ch Channel) bool {
	return ch == ChannelInstagram || ch == ChannelNaver || ch == ChannelKakao
}

// ParseCredentials validates the credential JSON of a channel account:
//
//	INSTAGRAM {"igUserId", "accessToken", "expiresAt"?}
//	NAVER     {"clubId", "menuId", "accessToken", "refreshToken", "expiresAt"?}
//	KAKAO     {"senderKey", "targeting"? (I, M or N: SENS brand message targeting), ...the dealer's other fields}
//
// expiresAt is RFC 3339. Errors are EINVALID and never quote a secret value.
func ParseCredentials(ch Channel, raw []byte) (Credentials, error) {
	if !ch.Valid() {
		return Credentials{}, Errorf(EINVALID, "unknown channel %q", Truncate(string(ch), 40))
	}
	if !AccountChannel(ch) {
		return Credentials{}, Errorf(EINVALID, "channel %s has no store account: partner channels are reached with the deployment's partner secret (CHANNELS_CONFIG), not per store", ch)
	}
	if len(raw) > maxCredentials {
		return Credentials{}, Errorf(EINVALID, "credentials must be at most %d bytes", maxCredentials)
	}
	if !utf8.Valid(raw) { // the decoder would silently store U+FFFD instead of what was sent
		return Credentials{}, Errorf(EINVALID, "credentials are not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return Credentials{}, Errorf(EINVALID, "credentials must be one JSON object")
	}
	if _, err := dec.Token(); err == nil {
		return Credentials{}, Errorf(EINVALID, "credentials must be one JSON object")
	}
	var required, allowed []string
	switch ch {
	case ChannelInstagram:
		required, allowed = []string{"igUserId", "accessToken"}, []string{"expiresAt"}
	case ChannelNaver:
		// members (optional): the cafe's member count, the article's estimated views (the Cafe
		// API offers no way to read it).
		required, allowed = []string{"clubId", "menuId", "accessToken", "refreshToken"}, []string{"expiresAt", "members"}
	case ChannelKakao:
		required = []string{"senderKey"} // the dealer's other fields (app key, secret, ...) are kept as given
	}
	str := func(k string) (string, error) {
		s, ok := m[k].(string)
		if !ok {
			if n, isNum := m[k].(json.Number); isNum && (k == "igUserId" || k == "clubId" || k == "menuId") {
				s = n.String()
			} else {
				return "", Errorf(EINVALID, "%s credentials need %q (a string)", ch, k)
			}
		}
		s = strings.TrimSpace(s)
		if s == "" {
			return "", Errorf(EINVALID, "%s credentials need %q (a string)", ch, k)
		}
		if err := CheckLine(k, s, 4096); err != nil {
			return "", err
		}
		return s, nil
	}
	vals := map[string]string{}
	for _, k := range required {
		s, err := str(k)
		if err != nil {
			return Credentials{}, err
		}
		vals[k] = s
		m[k] = s
	}
	if allowed != nil {
		for k := range m {
			if !slices.Contains(required, k) && !slices.Contains(allowed, k) {
				return Credentials{}, Errorf(EINVALID, "%s credentials: unknown field %q", ch, Truncate(k, 40))
			}
		}
	}
	if v, ok := m["members"]; ok {
		n, isNum := v.(json.Number)
		i, err := n.Int64()
		if !isNum || err != nil || i < 0 || i > MaxCafeMembers {
			return Credentials{}, Errorf(EINVALID, "%s credentials: members must be a whole number from 0 to %d (the cafe's member count)", ch, MaxCafeMembers)
		}
		m["members"] = i
	}
	if ch == ChannelKakao {
		if err := checkKakaoTargeting(m); err != nil {
			return Credentials{}, err
		}
	}
	c := Credentials{Channel: ch}
	if v, ok := m["expiresAt"]; ok && v != nil {
		s, isStr := v.(string)
		t, err := time.Parse(time.RFC3339, strings.TrimSpace(s))
		if !isStr || err != nil {
			return Credentials{}, Errorf(EINVALID, "expiresAt must be an RFC 3339 time such as 2026-03-01T00:00:00Z")
		}
		t = t.UTC()
		c.ExpiresAt = &t
		m["expiresAt"] = t.Format(time.RFC3339)
	}
	switch ch {
	case ChannelInstagram:
		c.AccountRef = vals["igUserId"]
	case ChannelNaver:
		c.AccountRef = vals["clubId"] + "/" + vals["menuId"]
	case ChannelKakao:
		c.AccountRef = vals["senderKey"]
	}
	if err := CheckLine("account ref", c.AccountRef, 200); err != nil {
		return Credentials{}, err
	}
	secret, err := json.Marshal(m)
	if err != nil {
		return Credentials{}, Errorf(EINVALID, "credentials must be one JSON object")
	}
	c.Secret = secret
	return c, nil
}

// checkKakaoTargeting checks a KAKAO account's optional "targeting": the SENS brand message
// targeting code (https://api.ncloud-docs.com/docs/sens-brandmessage-send): "I" (the listed
// recipients who are the channel's friends; the default), "M" (every listed recipient who
// consented to the company's advertising) or "N" (those of M who are not friends).
func checkKakaoTargeting(m map[string]any) error {
	v, ok := m["targeting"]
	if !ok || v == nil {
		return nil
	}
	s, isStr := v.(string)
	if !isStr || (s != "I" && s != "M" && s != "N") {
		return Errorf(EINVALID, `KAKAO credentials: targeting must be "I", "M" or "N"`)
	}
	return nil
}
