// Package secrets encrypts the channel accounts' credentials at rest (issue 14): AES-256-GCM from
// the standard library, a random 12-byte nonce per value, and associated data that binds each
// ciphertext to its row, so a ciphertext copied into another store's or channel's row does not
// decrypt. Every value is stored with the id of the key that wrote it; a Keyring holds the
// current key (every write) and, during a rotation, the previous one (reads only).
package secrets

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
)

// KeySize is the length of a key: AES-256.
const KeySize = 32

// nonceSize is GCM's standard nonce; random nonces are safe far beyond the number of
// credentials this service will ever write under one key (NIST SP 800-38D §8.3: 2^32).
const nonceSize = 12

// ErrDecrypt is every failure to open a value: unknown key id, wrong key, tampered bytes or
// associated data of another row. It says nothing more on purpose.
var ErrDecrypt = errors.New("secrets: cannot decrypt the value (wrong key, tampered, or copied from another row)")

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring seals with its current key and opens with the current or the previous key.
type Keyring struct {
	current  key
	previous *key
}

// KeyID is the public id of a key: the first 8 bytes of its SHA-256, in hex. It names the key in
// the database without revealing it.
func KeyID(k []byte) string {
	sum := sha256.Sum256(k)
	return hex.EncodeToString(sum[:8])
}

func newKey(k []byte) (key, error) {
	if len(k) != KeySize {
		return key{}, fmt.Errorf("secrets: a key must be %d bytes, got %d", KeySize, len(k))
	}
	block, err := aes.NewCipher(k)
	if err != nil {
		return key{}, fmt.Errorf("secrets: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("secrets: %w", err)
	}
	return key{id: KeyID(k), aead: aead}, nil
}

// New returns a keyring writing with current; previous (nil: none) only decrypts values written
// before a rotation.
func New(current, previous []byte) (*Keyring, error) {
	cur, err := newKey(current)
	if err != nil {
		return nil, err
	}
	r := &Keyring{current: cur}
	if previous != nil {
		prev, err := newKey(previous)
		if err != nil {
			return nil, err
		}
		if prev.id != cur.id {
			r.previous = &prev
		}
	}
	return r, nil
}

// CurrentKeyID is the id every new value is written under.
func (r *Keyring) CurrentKeyID() string { return r.current.id }

// Seal encrypts plaintext bound to aad and returns nonce||ciphertext and the key id.
func (r *Keyring) Seal(plaintext, aad []byte) ([]byte, string, error) {
	nonce := make([]byte, nonceSize, nonceSize+len(plaintext)+r.current.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, "", fmt.Errorf("secrets: nonce: %w", err)
	}
	return r.current.aead.Seal(nonce, nonce, plaintext, aad), r.current.id, nil
}

// Open decrypts a value written by Seal under keyID with the same aad. ErrDecrypt otherwise.
func (r *Keyring) Open(sealed []byte, keyID string, aad []byte) ([]byte, error) {
	var k *key
	switch {
	case keyID == r.current.id:
		k = &r.current
	case r.previous != nil && keyID == r.previous.id:
		k = r.previous
	default:
		return nil, ErrDecrypt
	}
	if len(sealed) < nonceSize+k.aead.Overhead() {
		return nil, ErrDecrypt
	}
	out, err := k.aead.Open(nil, sealed[:nonceSize], sealed[nonceSize:], aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return out, nil
}
