package auth

// API tokens: issuing (the secret shown once, only its SHA-256 stored), expiry parsing and
// authenticating a bearer token.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// AuthenticateToken returns the principal of an API bearer token ("dst_..."), or EUNAUTHORIZED:
// unknown, revoked and expired tokens, and tokens whose owner is disabled or no longer holds the
// token's role.
func (s *Service) AuthenticateToken(ctx context.Context, bearer string) (model.Principal, error) {
	secret, found := strings.CutPrefix(bearer, TokenPrefix)
	hash, ok := hashSecret(secret)
	if !found || !ok {
		return model.Principal{}, model.Errorf(model.EUNAUTHORIZED, "invalid, expired or revoked API token")
	}
	t, err := s.store.FindTokenByHash(ctx, hash)
	if err != nil {
		return model.Principal{}, err
	}
	return principalOfToken(t), nil
}

func principalOfToken(t db.APIToken) model.Principal {
	p := model.Principal{TokenID: t.ID, Name: "token:" + t.Name, Role: t.Role, TimeZone: t.OwnerTimeZone}
	if t.OwnerID != nil {
		p.OwnerID = *t.OwnerID
	}
	if t.ExpiresAt != nil {
		// Time left by the DB clock, added to ours: a skewed app clock cannot stretch the token.
		p.TokenExpiry = time.Now().Add(t.ExpiresIn)
	}
	return p
}

// CreateToken creates an API token owned by the service account "service:<name>" (created when
// missing; see db.CreateOwnedToken) that never expires, and returns its plaintext.
func (s *Service) CreateToken(ctx context.Context, name string, role model.Role, createdBy string) (string, error) {
	secret, _, err := s.IssueToken(ctx, db.TokenSpec{Name: name, Role: role, CreatedBy: createdBy})
	return secret, err
}

// IssueToken creates an API token and returns its plaintext ("dst_" + 43 base64url characters).
// Only its SHA-256 is stored: the plaintext cannot be shown again. The token belongs to
// spec.OwnerID (0: the service account named after it) and works only while that user is enabled
// and holds at least spec.Role.
func (s *Service) IssueToken(ctx context.Context, spec db.TokenSpec) (string, db.APIToken, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	if err := model.CheckLine("token name", spec.Name, 0); err != nil {
		return "", db.APIToken{}, err
	}
	if spec.Name == "" || utf8.RuneCountInString(spec.Name) > 100 {
		return "", db.APIToken{}, model.FieldErrorf("token name", "err.field.token_name", "%s must be 1 to 100 characters")
	}
	if _, err := model.ParseRole(string(spec.Role)); err != nil {
		return "", db.APIToken{}, err
	}
	secret, hash, err := newSecret()
	if err != nil {
		return "", db.APIToken{}, fmt.Errorf("create token: %w", err)
	}
	t, err := s.store.CreateOwnedToken(ctx, spec, hash)
	if err != nil {
		return "", db.APIToken{}, err
	}
	detail := fmt.Sprintf("%s role=%s owner=%s", t.Name, t.Role, t.OwnerEmail)
	if t.ExpiresAt != nil {
		detail += " expires=" + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	s.audit(ctx, model.AuditEntry{Actor: spec.CreatedBy, Action: "token_create", Detail: detail})
	return TokenPrefix + secret, t, nil
}

// MaxTokenLifetime bounds an API token's expiry.
const MaxTokenLifetime = 10 * 365 * 24 * time.Hour

// ParseExpiry reads a token expiry as typed on the CLI (--expires) or the /tokens form: empty
// means never; a duration ("720h", "90m", or whole days "30d") counts from creation; a date
// YYYY-MM-DD means the token works through that day in loc (it expires at the next midnight).
// It returns the duration or the instant (one of them set), or EINVALID.
func ParseExpiry(s string, loc *time.Location) (in time.Duration, at *time.Time, err error) {
	s = strings.TrimSpace(s)
	bad := model.Errork(model.EINVALID, "err.expiry", "expiry must be a duration such as 720h or 30d, or a date YYYY-MM-DD, at most 10 years ahead")
	switch {
	case s == "":
		return 0, nil, nil
	case len(s) == len("2006-01-02") && strings.Count(s, "-") == 2:
		d, perr := time.ParseInLocation("2006-01-02", s, loc)
		if perr != nil {
			return 0, nil, bad
		}
		end := d.AddDate(0, 0, 1)
		if time.Until(end) > MaxTokenLifetime {
			return 0, nil, bad
		}
		return 0, &end, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, perr := strconv.Atoi(days)
		if perr != nil || n <= 0 || n > int(MaxTokenLifetime/(24*time.Hour)) {
			return 0, nil, bad
		}
		return time.Duration(n) * 24 * time.Hour, nil, nil
	}
	d, perr := time.ParseDuration(s)
	if perr != nil || d <= 0 || d > MaxTokenLifetime {
		return 0, nil, bad
	}
	return d, nil, nil
}

// newSecret returns a random secret (base64url, unpadded) and its SHA-256.
func newSecret() (string, []byte, error) {
	b := make([]byte, secretLen)
	if _, err := rand.Read(b); err != nil {
		return "", nil, fmt.Errorf("read random bytes: %w", err)
	}
	secret := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256(b)
	return secret, sum[:], nil
}

// hashSecret decodes a secret made by newSecret and returns its SHA-256; ok is false when it is not
// one (wrong alphabet or length), so garbage never reaches the database.
func hashSecret(secret string) ([]byte, bool) {
	if len(secret) != base64.RawURLEncoding.EncodedLen(secretLen) {
		return nil, false
	}
	b, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(b) != secretLen {
		return nil, false
	}
	sum := sha256.Sum256(b)
	return sum[:], true
}
