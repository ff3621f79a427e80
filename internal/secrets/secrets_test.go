package secrets_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/marketing-platform/distribution/internal/secrets"
)

func key(seed byte) []byte {
	k := make([]byte, secrets.KeySize)
	for i := range k {
		k[i] = seed ^ byte(i*7)
	}
	return k
}

func TestSealOpen(t *testing.T) {
	t.Parallel()
	ring, err := secrets.New(key(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"accessToken":"IGQVJ-secret"}`)
	aad := []byte("store-a\x00INSTAGRAM")
	sealed, id, err := ring.Seal(plain, aad)
	if err != nil {
		t.Fatal(err)
	}
	if id != secrets.KeyID(key(1)) || id != ring.CurrentKeyID() || len(id) != 16 {
		t.Errorf("key id %q", id)
	}
	if bytes.Contains(sealed, []byte("IGQVJ")) {
		t.Fatal("the ciphertext holds the plaintext")
	}
	again, _, _ := ring.Seal(plain, aad)
	if bytes.Equal(again[:12], sealed[:12]) || bytes.Equal(again, sealed) {
		t.Error("two seals share a nonce")
	}
	got, err := ring.Open(sealed, id, aad)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip = %q, %v", got, err)
	}

	other, _ := secrets.New(key(2), nil)
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	nonceTampered := bytes.Clone(sealed)
	nonceTampered[0] ^= 1
	for name, open := range map[string]func() ([]byte, error){
		"wrong key (same id claimed)":  func() ([]byte, error) { return other.Open(sealed, other.CurrentKeyID(), aad) },
		"wrong key (unknown id)":       func() ([]byte, error) { return other.Open(sealed, id, aad) },
		"tampered ciphertext":          func() ([]byte, error) { return ring.Open(tampered, id, aad) },
		"tampered nonce":               func() ([]byte, error) { return ring.Open(nonceTampered, id, aad) },
		"another row (store)":          func() ([]byte, error) { return ring.Open(sealed, id, []byte("store-b\x00INSTAGRAM")) },
		"another row (channel)":        func() ([]byte, error) { return ring.Open(sealed, id, []byte("store-a\x00NAVER")) },
		"truncated":                    func() ([]byte, error) { return ring.Open(sealed[:10], id, aad) },
		"empty":                        func() ([]byte, error) { return ring.Open(nil, id, aad) },
		"a stored key id of other key": func() ([]byte, error) { return ring.Open(sealed, "0000000000000000", aad) },
	} {
		if out, err := open(); !errors.Is(err, secrets.ErrDecrypt) || out != nil {
			t.Errorf("%s: %q, %v; want ErrDecrypt", name, out, err)
		}
	}
}

// During a rotation the previous key still opens old values; new values use the current key only.
func TestRotation(t *testing.T) {
	t.Parallel()
	old, _ := secrets.New(key(1), nil)
	aad := []byte("row")
	sealed, oldID, _ := old.Seal([]byte("token"), aad)

	ring, err := secrets.New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ring.Open(sealed, oldID, aad); err != nil || string(got) != "token" {
		t.Fatalf("previous key: %q, %v", got, err)
	}
	resealed, newID, _ := ring.Seal([]byte("token"), aad)
	if newID == oldID || newID != secrets.KeyID(key(2)) {
		t.Errorf("new values are written under %s", newID)
	}
	if _, err := old.Open(resealed, newID, aad); err == nil {
		t.Error("the old key opens a value of the new one")
	}
	// After the rotation, without the previous key, old values are unreadable.
	done, _ := secrets.New(key(2), nil)
	if _, err := done.Open(sealed, oldID, aad); err == nil {
		t.Error("an old value opens without the previous key")
	}
}

func TestBadKeys(t *testing.T) {
	t.Parallel()
	if _, err := secrets.New(make([]byte, 16), nil); err == nil {
		t.Error("a 16-byte key was accepted")
	}
	if _, err := secrets.New(key(1), make([]byte, 31)); err == nil {
		t.Error("a 31-byte previous key was accepted")
	}
}
