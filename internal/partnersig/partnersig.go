// Package partnersig signs and verifies partner protocol v1 requests (docs/partner-v1.openapi.yaml):
// HMAC-SHA256 with a per-channel shared secret over the timestamp, the method, the path and the
// body. The adapter (package channels) signs and the simulator verifies with the same code, so
// the two cannot drift apart.
package partnersig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"
)

// Headers of a signed request.
const (
	HeaderTimestamp = "X-Partner-Timestamp" // unix seconds, decimal
	HeaderSignature = "X-Partner-Signature" // "v1=" + lowercase hex HMAC-SHA256 of Payload
)

// Window is how far a request's timestamp may be from the receiver's clock, either way.
const Window = 5 * time.Minute

// MinSecretLen is the shortest shared secret accepted (bytes, after trimming).
const MinSecretLen = 32

// Error codes of the 401 answers (body {"error":{"code":...}}).
const (
	CodeMissing   = "signature_missing"       // a signature header is absent
	CodeInvalid   = "signature_invalid"       // the signature does not match
	CodeTimestamp = "timestamp_out_of_window" // the timestamp is unreadable or more than Window away
)

// Secret is a shared secret. It formats, logs and marshals as "[redacted]" so it cannot leak
// through a %v, a %+v of a struct holding it, slog or encoding/json.
type Secret []byte

// Format implements fmt.Formatter: every verb prints "[redacted]".
func (Secret) Format(f fmt.State, _ rune) { io.WriteString(f, "[redacted]") }

// MarshalJSON implements json.Marshaler: a secret never reaches a JSON document either.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue("[redacted]") }

// NewSecret returns a random secret (32 random bytes as 64 hex characters), for the embedded
// simulator and tests.
func NewSecret() Secret {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand panics instead)
	return Secret(hex.EncodeToString(b))
}

// Payload is the canonical string a signature covers:
//
//	<timestamp> "." <METHOD> " " <path> "\n" <body>
//
// timestamp is the X-Partner-Timestamp value as sent, path the escaped request path as sent
// (no query; the protocol has none), body the exact bytes (empty for GET). Method and path are in
// it so a captured signed request cannot be replayed to another endpoint.
func Payload(timestamp, method, path string, body []byte) []byte {
	p := make([]byte, 0, len(timestamp)+len(method)+len(path)+len(body)+3)
	p = append(p, timestamp...)
	p = append(p, '.')
	p = append(p, method...)
	p = append(p, ' ')
	p = append(p, path...)
	p = append(p, '\n')
	return append(p, body...)
}

func mac(secret Secret, timestamp, method, path string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write(Payload(timestamp, method, path, body))
	return h.Sum(nil)
}

// Sign returns the two header values of a request sent at now.
func Sign(secret Secret, now time.Time, method, path string, body []byte) (timestamp, signature string) {
	timestamp = strconv.FormatInt(now.Unix(), 10)
	return timestamp, "v1=" + hex.EncodeToString(mac(secret, timestamp, method, path, body))
}

// VerifyError is a rejected signature; Code is one of the Code constants.
type VerifyError struct {
	Code   string
	Reason string
}

func (e *VerifyError) Error() string { return e.Reason }

// Verify checks a request's headers against secret at now. It returns a *VerifyError when the
// request must be rejected (401).
func Verify(secret Secret, now time.Time, method, path string, body []byte, timestamp, signature string) error {
	if timestamp == "" || signature == "" {
		return &VerifyError{CodeMissing, fmt.Sprintf("headers %s and %s are required", HeaderTimestamp, HeaderSignature)}
	}
	ts, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil || len(timestamp) > 12 {
		return &VerifyError{CodeTimestamp, HeaderTimestamp + " must be unix seconds"}
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Window || d < -Window {
		return &VerifyError{CodeTimestamp, fmt.Sprintf("%s is more than %s away from the server's clock", HeaderTimestamp, Window)}
	}
	hexSig, ok := strings.CutPrefix(signature, "v1=")
	got, err := hex.DecodeString(hexSig)
	if !ok || err != nil || !hmac.Equal(got, mac(secret, timestamp, method, path, body)) {
		return &VerifyError{CodeInvalid, "the request signature does not match"}
	}
	return nil
}

// ErrShortSecret is returned by CheckSecret for a secret under MinSecretLen bytes.
var ErrShortSecret = fmt.Errorf("the shared secret must be at least %d bytes", MinSecretLen)

// CheckSecret trims a secret read from a file and checks its length.
func CheckSecret(raw []byte) (Secret, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) < MinSecretLen {
		return nil, fmt.Errorf("%w (it has %d)", ErrShortSecret, len(s))
	}
	return Secret(s), nil
}

// maxSecretFile bounds a secret file: a secret is a line, not a document.
const maxSecretFile = 4 << 10

// ReadSecretFile reads a shared secret from path (trimmed, at least MinSecretLen bytes). Errors
// name the path, never the content.
func ReadSecretFile(path string) (Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(raw) > maxSecretFile {
		return nil, fmt.Errorf("%s is larger than %d bytes; it must hold only the secret", path, maxSecretFile)
	}
	sec, err := CheckSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return sec, nil
}
