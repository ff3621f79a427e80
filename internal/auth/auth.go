// Package auth owns who may do what: password hashing (argon2id), server-side sessions with idle and
// absolute timeouts, API bearer tokens, login throttling per account and per IP, and the principal
// carried in a request's context. It knows nothing about HTTP; the web and handlers packages turn
// cookies and headers into the strings it takes.
package auth

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
)

// ServiceAccountPrefix starts the name of every service account (the owner of CLI tokens).
const ServiceAccountPrefix = "service:"

// TokenPrefix starts every API token, so leaked tokens are recognisable (secret scanners, logs).
const TokenPrefix = "dst_"

// Password length bounds (bytes for the maximum: hashing cost must stay bounded).
const (
	MinPasswordLen = 8
	maxPasswordLen = 1024
	maxEmailLen    = 254
)

// Messages shown to users. The login failure text is identical whether or not the account exists.
const (
	MsgBadCredentials = "email or password is incorrect"
	MsgThrottled      = "too many failed login attempts; try again later"
)

// Config holds the session and throttling policy. Zero fields take the defaults.
type Config struct {
	// IdleTimeout ends a session not used for this long (default 2h).
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login, however busy (default 12h).
	AbsoluteTimeout time.Duration
	// AccountThrottle applies per email address, existing or not (default 5 failures / 15 min → 15 min lock).
	AccountThrottle db.ThrottlePolicy
	// IPThrottle applies per client IP, IPv6 per /64 (default 30 failures / 15 min → 15 min lock).
	IPThrottle db.ThrottlePolicy
	// AddrAccountThrottle applies per (client IP, email) (default 20 failures / 24 h → 24 h lock):
	// one address that keeps guessing one account is refused long after the account lock lapses.
	// Like AccountThrottle it spares browsers with a device cookie of the account, which are counted
	// per device cookie with AccountThrottle instead.
	AddrAccountThrottle db.ThrottlePolicy
	// AuditRetention is how long audit entries are kept; Prune deletes older ones (default 400 days).
	AuditRetention time.Duration
	// Argon2 are the parameters of new hashes (default DefaultArgon2).
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds simultaneous argon2 computations (memory) (default 4).
	MaxConcurrentHashes int
}

// WithDefaults returns c with zero fields replaced by defaults.
func (c Config) WithDefaults() Config {
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 2 * time.Hour
	}
	if c.AbsoluteTimeout <= 0 {
		c.AbsoluteTimeout = 12 * time.Hour
	}
	if c.AccountThrottle.MaxFailures <= 0 {
		c.AccountThrottle = db.ThrottlePolicy{MaxFailures: 5, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	}
	if c.IPThrottle.MaxFailures <= 0 {
		c.IPThrottle = db.ThrottlePolicy{MaxFailures: 30, Window: 15 * time.Minute, Lockout: 15 * time.Minute}
	}
	if c.AddrAccountThrottle.MaxFailures <= 0 {
		c.AddrAccountThrottle = db.ThrottlePolicy{MaxFailures: 20, Window: 24 * time.Hour, Lockout: 24 * time.Hour}
	}
	if c.AuditRetention <= 0 {
		c.AuditRetention = 400 * 24 * time.Hour
	}
	if c.Argon2.Memory == 0 {
		c.Argon2 = DefaultArgon2
	}
	if c.MaxConcurrentHashes <= 0 {
		c.MaxConcurrentHashes = 4
	}
	return c
}

// Service authenticates people and machines against the store.
type Service struct {
	store  *db.DB
	cfg    Config
	logger *slog.Logger
	hashes chan struct{} // semaphore bounding concurrent argon2 work

	verifications atomic.Int64 // password verifications performed (see Verifications)

	deviceMu       sync.Mutex
	deviceKeyBytes []byte // HMAC key of device cookies, loaded once (deviceKey)

	dummyOnce sync.Once
	dummyHash string // verified against when the account does not exist, so timing reveals nothing
}

// NewService returns a Service over store. A nil logger uses slog.Default().
func NewService(store *db.DB, cfg Config, logger *slog.Logger) *Service {
	if logger == nil {
		logger = slog.Default()
	}
	cfg = cfg.WithDefaults()
	return &Service{
		store:  store,
		cfg:    cfg,
		logger: logger.With(slog.String("component", "auth")),
		hashes: make(chan struct{}, cfg.MaxConcurrentHashes),
	}
}

// Config returns the effective configuration (cookie lifetimes follow AbsoluteTimeout).
func (s *Service) Config() Config { return s.cfg }

func (s *Service) acquire(ctx context.Context) error {
	select {
	case s.hashes <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait for password hashing slot: %w", ctx.Err())
	}
}

func (s *Service) release() { <-s.hashes }

func (s *Service) hash(ctx context.Context, password string) (string, error) {
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return HashPassword(password, s.cfg.Argon2)
}

func (s *Service) verify(ctx context.Context, encoded, password string) (bool, error) {
	if err := s.acquire(ctx); err != nil {
		return false, err
	}
	defer s.release()
	s.verifications.Add(1)
	return VerifyPassword(encoded, password)
}

// Verifications returns how many password verifications (argon2, real or dummy) this Service has
// performed: what login throttling is there to bound.
func (s *Service) Verifications() int64 { return s.verifications.Load() }

// dummyVerify spends the same time as a real verification.
func (s *Service) dummyVerify(ctx context.Context, password string) {
	s.dummyOnce.Do(func() {
		h, err := HashPassword(randomString(), s.cfg.Argon2)
		if err != nil {
			s.logger.Error("make dummy hash", slog.Any("error", err))
		}
		s.dummyHash = h
	})
	s.verify(ctx, s.dummyHash, password) //nolint:errcheck // result is irrelevant by design
}

func accountKey(email string) string { return "account:" + email }

// acctIPKey counts one address's attempts on one account (an ip key never holds "|"; the db
// package relies on that to find an account's rows).
func acctIPKey(ipk, email string) string { return "acctip:" + ipk + "|" + email }

func deviceThrottleKey(nonce string) string { return "device:" + nonce }

// ipKey groups IPv6 clients by /64: one host usually owns a whole /64, so per-address keys would be
// trivially rotated.
func ipKey(ip string) string {
	parsed := net.ParseIP(ip)
	switch {
	case parsed == nil:
		return "ip:unknown"
	case parsed.To4() != nil:
		return "ip:" + parsed.String()
	default:
		return "ip:" + parsed.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}

var (
	errBadCredentials = model.Errorf(model.EUNAUTHORIZED, MsgBadCredentials)
	errThrottled      = model.Errorf(model.ETOOMANY, MsgThrottled)
)

// maxAuditIPLen bounds the address stored in audit rows (an IPv6 address is at most 45 characters).
const maxAuditIPLen = 64

// LoginRequest is one login attempt.
type LoginRequest struct {
	Email, Password, IP, UserAgent string
	// DeviceCookie is the device cookie the browser presented ("" when it has none).
	DeviceCookie string
}

// LoginResult is a successful login.
type LoginResult struct {
	// Session is the session cookie value (the session secret; only its SHA-256 is stored).
	Session   string
	Principal model.Principal
	// DeviceCookie is the device cookie value the browser should keep (long-lived, kept across
	// logout): the one it presented when that was valid for this account, a new one otherwise.
	DeviceCookie string
}

// Login checks email and password and starts a session, for callers without device cookies. See
// LoginDevice.
func (s *Service) Login(ctx context.Context, email, password, ip, userAgent string) (string, model.Principal, error) {
	r, err := s.LoginDevice(ctx, LoginRequest{Email: email, Password: password, IP: ip, UserAgent: userAgent})
	return r.Session, r.Principal, err
}

// LoginDevice checks email and password and starts a session. Failures are EUNAUTHORIZED with one
// generic message, ETOOMANY when the attempt is throttled.
//
// The attempt is counted before the password is verified (db.ReserveLoginAttempt), so concurrent
// guesses cannot slip past the limit, and a throttled attempt is refused before it waits for a
// hashing slot. A browser presenting a valid device cookie for this account is counted on that
// cookie alone; any other client per account, per IP and per (IP, account). A success hands the
// reservation back.
func (s *Service) LoginDevice(ctx context.Context, req LoginRequest) (LoginResult, error) {
	// Attacker-controlled text goes into throttle keys and audit rows: valid UTF-8, one line, bounded.
	email := model.SanitizeLine(db.NormalizeEmail(req.Email), maxEmailLen)
	ip := model.SanitizeLine(req.IP, maxAuditIPLen)
	ipk := ipKey(ip)
	nonce, trusted, err := s.deviceNonce(ctx, req.DeviceCookie, email)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	keys := []db.ThrottleKey{{Key: deviceThrottleKey(nonce), Policy: s.cfg.AccountThrottle}}
	if !trusted {
		keys = []db.ThrottleKey{
			{Key: accountKey(email), Policy: s.cfg.AccountThrottle},
			{Key: ipk, Policy: s.cfg.IPThrottle},
			{Key: acctIPKey(ipk, email), Policy: s.cfg.AddrAccountThrottle},
		}
	}
	ok, locked, err := s.store.ReserveLoginAttempt(ctx, keys)
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	if !ok {
		if err := s.store.AddThrottledAudit(ctx, model.AuditEntry{Actor: email, Action: model.AuditLoginThrottled, IP: ip}, s.cfg.IPThrottle.Window); err != nil {
			s.logger.Error("write audit entry", slog.String("action", model.AuditLoginThrottled), slog.Any("error", err))
		}
		return LoginResult{}, errThrottled
	}
	for _, k := range locked {
		s.logger.Warn("login locked out", slog.String("key", model.Truncate(k, 100)), slog.String("ip", ip))
	}

	user, err := s.store.FindUserByEmail(ctx, email)
	switch {
	case model.ErrorCode(err) == model.ENOTFOUND:
		s.dummyVerify(ctx, req.Password)
		return LoginResult{}, s.loginFailed(ctx, email, ip)
	case err != nil:
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	if len(req.Password) > maxPasswordLen {
		s.dummyVerify(ctx, req.Password[:maxPasswordLen])
		return LoginResult{}, s.loginFailed(ctx, email, ip)
	}
	ok, err = s.verify(ctx, user.PasswordHash, req.Password)
	if err != nil && !errors.Is(err, errBadHash) {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	if err != nil {
		s.logger.Error("stored password hash is unusable", slog.Int64("user_id", user.ID))
	}
	if !ok || user.Disabled {
		return LoginResult{}, s.loginFailed(ctx, email, ip)
	}

	// Hand the reservation back. A trusted browser's success does not reset the account counter:
	// that would give whoever is guessing the account fresh attempts each time the owner logs in.
	if trusted {
		err = s.store.ResetLoginFailures(ctx, deviceThrottleKey(nonce))
	} else {
		err = errors.Join(s.store.ResetLoginFailures(ctx, accountKey(email)),
			s.store.ResetLoginFailures(ctx, acctIPKey(ipk, email)),
			s.store.ReleaseLoginAttempt(ctx, ipk, s.cfg.IPThrottle))
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	device := req.DeviceCookie
	if !trusted {
		if device, err = s.newDeviceCookie(ctx, user.Email); err != nil {
			return LoginResult{}, fmt.Errorf("login: %w", err)
		}
	}
	secret, idHash, err := newSecret()
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	userAgent := model.Truncate(req.UserAgent, 512)
	if err := s.store.CreateSession(ctx, idHash, user.ID, s.cfg.IdleTimeout, s.cfg.AbsoluteTimeout, ip, userAgent); err != nil {
		return LoginResult{}, fmt.Errorf("login: %w", err)
	}
	s.audit(ctx, model.AuditEntry{Actor: user.Email, Action: model.AuditLogin, IP: ip})
	return LoginResult{Session: secret, Principal: principalOfUser(user, idHash), DeviceCookie: device}, nil
}

// loginFailed audits the failure (naming the email tried, whether or not such a user exists) and
// returns the generic error; the attempt was already counted when it was reserved.
func (s *Service) loginFailed(ctx context.Context, email, ip string) error {
	s.audit(ctx, model.AuditEntry{Actor: email, Action: model.AuditLoginFailed, IP: ip})
	return errBadCredentials
}

func principalOfUser(u model.User, idHash []byte) model.Principal {
	return model.Principal{UserID: u.ID, Name: u.Email, Role: u.Role, SessionID: hex.EncodeToString(idHash), TimeZone: u.TimeZone}
}

// Authenticate returns the principal of a live session cookie value, sliding its idle expiry.
// Unknown, expired, malformed and disabled-user sessions are EUNAUTHORIZED.
func (s *Service) Authenticate(ctx context.Context, cookieValue string) (model.Principal, error) {
	idHash, ok := hashSecret(cookieValue)
	if !ok {
		return model.Principal{}, model.Errorf(model.EUNAUTHORIZED, "session expired or unknown")
	}
	sess, user, err := s.store.FindSession(ctx, idHash, s.cfg.AbsoluteTimeout)
	if err != nil {
		return model.Principal{}, err
	}
	if sess.Stale {
		if err := s.store.TouchSession(ctx, idHash, s.cfg.IdleTimeout, s.cfg.AbsoluteTimeout); err != nil {
			// The session is valid now; failing the request over a bookkeeping write helps nobody.
			s.logger.Warn("touch session", slog.Any("error", err))
		}
	}
	return principalOfUser(user, idHash), nil
}

// Logout ends the session of cookieValue server-side. Unknown or malformed values are a no-op.
func (s *Service) Logout(ctx context.Context, cookieValue string) error {
	idHash, ok := hashSecret(cookieValue)
	if !ok {
		return nil
	}
	return s.store.DeleteSession(ctx, idHash)
}

// CreateUser validates and stores a new user; createdBy names the actor in the audit log
// (an email, or "cli").
func (s *Service) CreateUser(ctx context.Context, email, password string, role model.Role, createdBy string) (model.User, error) {
	bad := model.CheckLine("email", email, 0) != nil // before lower-casing turns bad bytes into U+FFFD
	email = db.NormalizeEmail(email)
	if bad || len(email) < 3 || len(email) > maxEmailLen || !strings.Contains(email, "@") || strings.Contains(email, " ") {
		return model.User{}, model.FieldErrorf("email", "err.field.email", "%s must look like name@example.com (at most %d characters)", maxEmailLen)
	}
	if strings.HasPrefix(email, ServiceAccountPrefix) {
		return model.User{}, model.Errork(model.EINVALID, "err.email_service", "emails starting with %q name service accounts", ServiceAccountPrefix)
	}
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return model.User{}, model.FieldErrorf("password", "err.field.password_short", "%s must be at least %d characters", MinPasswordLen)
	}
	if len(password) > maxPasswordLen {
		return model.User{}, model.FieldErrorf("password", "err.field.password_long", "%s must be at most %d bytes", maxPasswordLen)
	}
	if _, err := model.ParseRole(string(role)); err != nil {
		return model.User{}, err
	}
	h, err := s.hash(ctx, password)
	if err != nil {
		return model.User{}, fmt.Errorf("create user: %w", err)
	}
	u, err := s.store.CreateUser(ctx, email, h, role)
	if err != nil {
		return model.User{}, err
	}
	s.audit(ctx, model.AuditEntry{Actor: createdBy, Action: "user_add", Detail: fmt.Sprintf("%s role=%s", u.Email, u.Role)})
	return u, nil
}

// Prune deletes expired sessions, stale throttle rows and audit entries older than
// AuditRetention; run it now and then (e.g. hourly).
func (s *Service) Prune(ctx context.Context) error {
	older := max(s.cfg.AccountThrottle.Window, s.cfg.IPThrottle.Window, s.cfg.AddrAccountThrottle.Window)
	if err := s.store.PruneAccounts(ctx, older); err != nil {
		return err
	}
	n, err := s.store.PruneAudit(ctx, s.cfg.AuditRetention)
	if n > 0 {
		s.logger.Info("pruned audit log", slog.Int64("entries", n), slog.Duration("retention", s.cfg.AuditRetention))
	}
	return err
}

// audit records an entry; the action already happened, so a failed write is logged, not returned.
func (s *Service) audit(ctx context.Context, e model.AuditEntry) {
	if err := s.store.AddAudit(ctx, e); err != nil {
		s.logger.Error("write audit entry", slog.String("action", e.Action), slog.Any("error", err))
	}
}

// ReadPasswordLine returns the first line of r without its line ending (the CLI reads the new
// user's password from stdin this way, so it never appears in argv or shell history).
func ReadPasswordLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", model.Errorf(model.EINVALID, "no password on stdin (write it as the first line)")
	}
	return line, nil
}

const secretLen = 32

func randomString() string {
	s, _, _ := newSecret()
	return s
}

type ctxKey struct{}

// NewContext returns ctx carrying the request's principal.
func NewContext(ctx context.Context, p model.Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, if it has one.
func FromContext(ctx context.Context) (model.Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(model.Principal)
	return p, ok
}
