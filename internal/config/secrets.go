package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
)

// SecretsKeyBytes is the length of a SECRETS_KEY: AES-256.
const SecretsKeyBytes = 32

// SecretsKeys are the keys of the credentials at rest (internal/secrets). Current comes from
// SECRETS_KEY (base64 of 32 bytes) or SECRETS_KEY_FILE (a file holding that); Previous from
// SECRETS_KEY_PREVIOUS, which only decrypts values written before a rotation. Neither is ever
// logged or printed: String hides them.
type SecretsKeys struct {
	Current  []byte // nil: no key configured
	Previous []byte // nil: no rotation in progress
}

// String never shows the keys (a Config printed with %v or logged must not leak them).
func (SecretsKeys) String() string { return "SecretsKeys{redacted}" }

// GoString hides the keys from %#v too.
func (k SecretsKeys) GoString() string { return k.String() }

// devSecretsKey is the insecure development key used when no SECRETS_KEY is set and
// CHANNELS_CONFIG is unset: every channel is then the embedded simulator, the only credentials
// are the seed's fake demo ones, and `make run` must work with no configuration. It is derived
// from a public string: it protects nothing, on purpose, and is refused the moment a real
// channel configuration exists (DevSecretsKey, RequireSecretsKey).
var devSecretsKey = func() []byte {
	sum := sha256.Sum256([]byte("distribution: insecure development key, simulator only (CHANNELS_CONFIG unset)"))
	return sum[:]
}()

func loadSecrets(getenv func(string) string) (SecretsKeys, error) {
	var k SecretsKeys
	v, file := getenv("SECRETS_KEY"), getenv("SECRETS_KEY_FILE")
	switch {
	case v != "" && file != "":
		return k, errors.New("SECRETS_KEY and SECRETS_KEY_FILE: set one of them, not both")
	case v != "":
		key, err := decodeSecretsKey("SECRETS_KEY", v)
		if err != nil {
			return k, err
		}
		k.Current = key
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return k, fmt.Errorf("SECRETS_KEY_FILE: cannot read %q: %v", file, err)
		}
		key, err := decodeSecretsKey("SECRETS_KEY_FILE", string(b))
		if err != nil {
			return k, err
		}
		k.Current = key
	}
	if p := getenv("SECRETS_KEY_PREVIOUS"); p != "" {
		if k.Current == nil {
			return k, errors.New("SECRETS_KEY_PREVIOUS: needs SECRETS_KEY or SECRETS_KEY_FILE (the key new values are written with)")
		}
		key, err := decodeSecretsKey("SECRETS_KEY_PREVIOUS", p)
		if err != nil {
			return k, err
		}
		k.Previous = key
	}
	return k, nil
}

// decodeSecretsKey reads base64 (standard or URL alphabet, padded or not) of exactly 32 bytes.
// The error names the variable and never repeats its value.
func decodeSecretsKey(name, v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil {
			if len(b) != SecretsKeyBytes {
				return nil, fmt.Errorf("%s: want base64 of %d random bytes (e.g. `openssl rand -base64 32`), got %d bytes", name, SecretsKeyBytes, len(b))
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("%s: not valid base64; want base64 of %d random bytes (e.g. `openssl rand -base64 32`)", name, SecretsKeyBytes)
}

// SecretsKeysOrDev returns the keys credentials are encrypted with: the configured ones, or,
// with no key and no CHANNELS_CONFIG (the embedded simulator, `make run`), the insecure
// development key (dev = true). With CHANNELS_CONFIG set and no key it fails naming SECRETS_KEY.
func (c Config) SecretsKeysOrDev() (keys SecretsKeys, dev bool, err error) {
	if c.Secrets.Current != nil {
		return c.Secrets, false, nil
	}
	if c.ChannelsConfig == "" {
		return SecretsKeys{Current: bytes.Clone(devSecretsKey)}, true, nil
	}
	return SecretsKeys{}, false, c.RequireSecretsKey()
}

// RequireSecretsKey fails, naming the variable, unless a real key is configured: the start-up
// calls it when a protocol that needs channel accounts is configured (the development key is
// never accepted there).
func (c Config) RequireSecretsKey() error {
	if c.Secrets.Current == nil {
		return errors.New("SECRETS_KEY: not set; channel account credentials are encrypted with it (base64 of 32 random bytes, e.g. `openssl rand -base64 32`), or set SECRETS_KEY_FILE to a file holding it")
	}
	return nil
}
