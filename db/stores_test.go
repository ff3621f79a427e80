package db_test

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

const (
	storesIGToken    = "IGQVJ-db-test-access-token-0123456789"
	storesNaverToken = "AAAAN-db-test-naver-refresh-token"
)

func storesKey(seed byte) []byte {
	k := make([]byte, secrets.KeySize)
	for i := range k {
		k[i] = seed + byte(i)*3
	}
	return k
}

func storesRing(t *testing.T, current, previous []byte) *secrets.Keyring {
	t.Helper()
	r, err := secrets.New(current, previous)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func storesCred(t *testing.T, ch model.Channel, raw string) model.Credentials {
	t.Helper()
	c, err := model.ParseCredentials(ch, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustStore(t *testing.T, d *db.DB, id string) {
	t.Helper()
	if _, err := d.CreateStore(context.Background(), model.Store{ID: id, Name: "Store " + id}, model.AuditEntry{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// Credentials round-trip through the database encrypted: the wrong key, a tampered ciphertext
// and a ciphertext copied into another row all fail; neither a pg_dump of the database nor the
// credentials column read as text holds the token.
func TestChannelAccountCredentialsEncrypted(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewURL(t)
	d, err := db.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	mustStore(t, d, "store-a")
	mustStore(t, d, "store-b")
	ring := storesRing(t, storesKey(1), nil)
	ig := `{"igUserId":"17841400000000001","accessToken":"` + storesIGToken + `","expiresAt":"2099-01-01T00:00:00Z"}`
	a, err := d.SetChannelAccount(ctx, "store-a", storesCred(t, model.ChannelInstagram, ig), ring, model.AuditEntry{Actor: "cli"})
	if err != nil {
		t.Fatal(err)
	}
	if a.AccountRef != "17841400000000001" || a.Status != model.AccountConnected || a.ConnectedBy != "cli" || a.ExpiresAt == nil {
		t.Errorf("account = %+v", a)
	}
	naver := `{"clubId":"31000001","menuId":"7","accessToken":"nv-access","refreshToken":"` + storesNaverToken + `"}`
	if _, err := d.SetChannelAccount(ctx, "store-b", storesCred(t, model.ChannelNaver, naver), ring, model.AuditEntry{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.SetChannelAccount(ctx, "store-b", storesCred(t, model.ChannelInstagram, strings.Replace(ig, "00001", "00002", 1)), ring, model.AuditEntry{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}

	got, acc, err := d.AccountCredentials(ctx, "store-a", model.ChannelInstagram, ring)
	if err != nil || !strings.Contains(string(got), storesIGToken) || acc.AccountRef != "17841400000000001" {
		t.Fatalf("round trip: %q, %+v, %v", got, acc, err)
	}
	if _, _, err := d.AccountCredentials(ctx, "store-a", model.ChannelInstagram, storesRing(t, storesKey(9), nil)); err == nil {
		t.Error("the wrong key decrypts")
	}
	if _, _, err := d.AccountCredentials(ctx, "store-a", model.ChannelKakao, ring); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("missing account: %v", err)
	}

	// Row binding: store-a's ciphertext copied into store-b's INSTAGRAM row does not decrypt.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_accounts b SET credentials = a.credentials, key_id = a.key_id
		FROM channel_accounts a WHERE a.store_id = 'store-a' AND a.channel = 'INSTAGRAM' AND b.store_id = 'store-b' AND b.channel = 'INSTAGRAM'`); err != nil {
		t.Fatal(err)
	}
	if out, _, err := d.AccountCredentials(ctx, "store-b", model.ChannelInstagram, ring); err == nil {
		t.Errorf("a ciphertext copied into another row decrypts: %q", out)
	}
	// One flipped byte and the value is refused.
	if _, err := d.Pool.Exec(ctx, `UPDATE channel_accounts SET credentials = overlay(credentials placing
		decode(lpad(to_hex(get_byte(credentials, 20) # 1), 2, '0'), 'hex') from 21 for 1)
		WHERE store_id = 'store-b' AND channel = 'NAVER'`); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.AccountCredentials(ctx, "store-b", model.ChannelNaver, ring); err == nil {
		t.Error("a tampered ciphertext decrypts")
	}

	// No plaintext in the database: the column as text, and a whole dump.
	var asText string
	if err := d.Pool.QueryRow(ctx, `SELECT string_agg(credentials::text || encode(credentials, 'escape'), '|') FROM channel_accounts`).Scan(&asText); err != nil {
		t.Fatal(err)
	}
	dump, err := exec.CommandContext(ctx, "pg_dump", "--no-owner", url).Output()
	if err != nil {
		t.Fatalf("pg_dump: %v", err)
	}
	if !bytes.Contains(dump, []byte("channel_accounts")) {
		t.Fatal("the dump has no channel_accounts table")
	}
	for _, secret := range []string{storesIGToken, storesNaverToken, "nv-access", "accessToken"} {
		if strings.Contains(asText, secret) || bytes.Contains(dump, []byte(secret)) {
			t.Errorf("%q is stored in plaintext", secret)
		}
	}

	// Listing never carries credentials (the type has no field for them) and is in channel order.
	accounts, err := d.FindChannelAccounts(ctx, "store-b")
	if err != nil || len(accounts) != 2 || accounts[0].Channel != model.ChannelInstagram || accounts[1].AccountRef != "31000001/7" {
		t.Errorf("store-b accounts = %+v, %v", accounts, err)
	}
}

// Rotation: with SECRETS_KEY_PREVIOUS the old values still read, `account rotate`
// (RotateAccountCredentials) moves them to the new key, after which the old key is not needed.
func TestChannelAccountRotation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	mustStore(t, d, "s1")
	mustStore(t, d, "s2")
	oldRing := storesRing(t, storesKey(1), nil)
	for _, s := range []string{"s1", "s2"} {
		if _, err := d.SetChannelAccount(ctx, s, storesCred(t, model.ChannelKakao, `{"senderKey":"sk-`+s+`","appKey":"ak","secretKey":"very-secret"}`), oldRing, model.AuditEntry{Actor: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	newRing := storesRing(t, storesKey(2), storesKey(1))
	if got, _, err := d.AccountCredentials(ctx, "s1", model.ChannelKakao, newRing); err != nil || !strings.Contains(string(got), "very-secret") {
		t.Fatalf("previous key read: %q, %v", got, err)
	}
	n, err := d.RotateAccountCredentials(ctx, newRing)
	if err != nil || n != 2 {
		t.Fatalf("rotate: %d, %v", n, err)
	}
	if n, err := d.RotateAccountCredentials(ctx, newRing); err != nil || n != 0 {
		t.Errorf("second rotate: %d, %v", n, err)
	}
	var oldLeft int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM channel_accounts WHERE key_id <> $1`, secrets.KeyID(storesKey(2))).Scan(&oldLeft); err != nil || oldLeft != 0 {
		t.Errorf("%d values still under another key (%v)", oldLeft, err)
	}
	onlyNew := storesRing(t, storesKey(2), nil)
	for _, s := range []string{"s1", "s2"} {
		if got, _, err := d.AccountCredentials(ctx, s, model.ChannelKakao, onlyNew); err != nil || !strings.Contains(string(got), "sk-"+s) {
			t.Errorf("%s after rotation: %q, %v", s, got, err)
		}
	}
	if _, _, err := d.AccountCredentials(ctx, "s1", model.ChannelKakao, oldRing); err == nil {
		t.Error("the old key still reads after the rotation")
	}
}

// Stores: ids follow the event-id rules, names are one line; duplicates conflict; set refuses an
// unknown store and expired credentials; a token close to its expiry is "expiring".
func TestStoresAndAccountRules(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := dbtest.New(t)
	mustStore(t, d, "s1")
	if _, err := d.CreateStore(ctx, model.Store{ID: "s1", Name: "x"}, model.AuditEntry{}); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("duplicate: %v", err)
	}
	for _, s := range []model.Store{{ID: "a b", Name: "x"}, {ID: "", Name: "x"}, {ID: "ok", Name: "a\nb"}, {ID: "ok", Name: "a\x00"},
		{ID: "ok", Name: ""}, {ID: "ok", Name: strings.Repeat("x", 201)}, {ID: strings.Repeat("i", 37), Name: "x"}} {
		if _, err := d.CreateStore(ctx, s, model.AuditEntry{}); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("%q/%q: %v", s.ID, s.Name, err)
		}
	}
	ring := storesRing(t, storesKey(3), nil)
	ig := func(exp string) model.Credentials {
		return storesCred(t, model.ChannelInstagram, `{"igUserId":"1","accessToken":"t","expiresAt":"`+exp+`"}`)
	}
	if _, err := d.SetChannelAccount(ctx, "nope", ig("2099-01-01T00:00:00Z"), ring, model.AuditEntry{}); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("unknown store: %v", err)
	}
	if _, err := d.SetChannelAccount(ctx, "s1", ig("2001-01-01T00:00:00Z"), ring, model.AuditEntry{}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("expired token: %v", err)
	}
	soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
	if a, err := d.SetChannelAccount(ctx, "s1", ig(soon), ring, model.AuditEntry{}); err != nil || a.Status != model.AccountExpiring {
		t.Errorf("expiring: %+v, %v", a, err)
	}
	s, err := d.FindStoreByID(ctx, "s1")
	if err != nil || len(s.Accounts) != 1 || s.Name != "Store s1" {
		t.Errorf("store = %+v, %v", s, err)
	}
}
