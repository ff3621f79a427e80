package system

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

const cliIGToken = "IGQVJ-system-test-token-never-printed"

// runCLI runs the real binary with env and stdin; it returns the exit status, stdout and stderr.
func runCLI(t *testing.T, env []string, stdin string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errb.String()
}

// `account set` reads the credential JSON from stdin, stores it encrypted and prints the status
// (never the token); `account list` shows store, channel, account, status and expiry; bad
// channels and flags are usage errors (exit 2); `account rotate` moves the values to a new key.
func TestCLIAccountSetListRotate(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	k1 := bytes.Repeat([]byte{1}, 32)
	k2 := bytes.Repeat([]byte{2}, 32)
	env := []string{"DATABASE_URL=" + url, "LOG_LEVEL=info", "SECRETS_KEY=" + base64.StdEncoding.EncodeToString(k1)}
	store := openStore(t, url)
	ctx, cancel := qctx()
	defer cancel()
	if _, err := store.CreateStore(ctx, model.Store{ID: "gangnam", Name: "행복베이커리 강남점"}, model.AuditEntry{Actor: "test"}); err != nil {
		t.Fatal(err)
	}

	ig := `{"igUserId": "17841400000000001", "accessToken": "` + cliIGToken + `", "expiresAt": "2099-03-01T00:00:00Z"}`
	code, out, errOut := runCLI(t, env, ig, "account", "set", "--store", "gangnam", "--channel", "INSTAGRAM")
	if code != 0 || !strings.Contains(out, "connected") || !strings.Contains(out, "17841400000000001") || !strings.Contains(out, "2099-03-01") {
		t.Fatalf("account set: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	naver := `{"clubId":"31000001","menuId":"7","accessToken":"nv-` + cliIGToken + `","refreshToken":"rf-` + cliIGToken + `"}`
	if code, out, errOut := runCLI(t, env, naver, "account", "set", "--store", "gangnam", "--channel", "NAVER"); code != 0 || !strings.Contains(out, "31000001/7") {
		t.Fatalf("account set NAVER: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, list, errOut := runCLI(t, env, "", "account", "list")
	if code != 0 {
		t.Fatalf("account list: exit %d, %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(list), "\n")
	if len(lines) != 3 || !strings.Contains(lines[0], "STORE") ||
		strings.Join(strings.Fields(lines[1]), " ") != "gangnam INSTAGRAM 17841400000000001 connected 2099-03-01T00:00:00Z" ||
		strings.Join(strings.Fields(lines[2]), " ") != "gangnam NAVER 31000001/7 connected never" {
		t.Errorf("account list:\n%s", list)
	}

	// Refusals: exit 2 with the usage for command-line mistakes, 1 with a message otherwise; the
	// token is never echoed.
	for _, tc := range []struct {
		args  []string
		stdin string
		code  int
		want  string
	}{
		{[]string{"account", "set", "--store", "gangnam", "--channel", "TIKTOK"}, ig, 2, "unknown channel"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "GINITV"}, ig, 2, "partner"},
		{[]string{"account", "set", "--store", "gangnam"}, ig, 2, "--channel"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "KAKAO", "--bogus"}, ig, 2, "usage: distribution"},
		{[]string{"account", "frobnicate"}, "", 2, "usage: distribution"},
		{[]string{"account"}, "", 2, "usage: distribution"},
		{[]string{"account", "set", "--store", "nope", "--channel", "INSTAGRAM"}, ig, 1, "store nope not found"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "INSTAGRAM"}, `{"igUserId":"1"}`, 1, "accessToken"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "INSTAGRAM"}, `{"igUserId":"1","accessToken":"` + cliIGToken + `","extra":1}`, 1, "unknown field"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "INSTAGRAM"}, `{"igUserId":"1","accessToken":"` + cliIGToken + `"`, 1, "JSON object"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "KAKAO"}, `{"appKey":"` + cliIGToken + `"}`, 1, "senderKey"},
		{[]string{"account", "set", "--store", "gangnam", "--channel", "KAKAO"}, "", 1, "stdin is empty"},
	} {
		code, out, errOut := runCLI(t, env, tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
		if strings.Contains(out+errOut, cliIGToken) {
			t.Errorf("%v: the token is printed", tc.args)
		}
	}
	if strings.Contains(out+list+errOut, cliIGToken) {
		t.Error("the token is printed")
	}

	// Without SECRETS_KEY and with a channel configuration, nothing is stored and the variable is named.
	cfgFile := filepath.Join(t.TempDir(), "channels.json")
	if err := os.WriteFile(cfgFile, []byte(`{"channels":{}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLI(t, []string{"DATABASE_URL=" + url, "CHANNELS_CONFIG=" + cfgFile}, `{"senderKey":"sk"}`,
		"account", "set", "--store", "gangnam", "--channel", "KAKAO"); code != 1 || !strings.Contains(errOut, "SECRETS_KEY") {
		t.Errorf("no key with CHANNELS_CONFIG: exit %d, %q", code, errOut)
	}

	// Rotation: the new key with the old one as previous re-encrypts both values.
	rotEnv := []string{"DATABASE_URL=" + url, "SECRETS_KEY=" + base64.StdEncoding.EncodeToString(k2),
		"SECRETS_KEY_PREVIOUS=" + base64.StdEncoding.EncodeToString(k1)}
	if code, out, errOut := runCLI(t, rotEnv, "", "account", "rotate"); code != 0 || !strings.Contains(out, "re-encrypted 2") {
		t.Fatalf("rotate: exit %d, %q, %q", code, out, errOut)
	}
	ring, err := secrets.New(k2, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := store.AccountCredentials(ctx, "gangnam", model.ChannelInstagram, ring)
	if err != nil || !strings.Contains(string(got), cliIGToken) {
		t.Fatalf("after rotation, the new key alone reads: %q, %v", got, err)
	}
	old, _ := secrets.New(k1, nil)
	if _, _, err := store.AccountCredentials(ctx, "gangnam", model.ChannelNaver, old); err == nil {
		t.Error("the old key still reads after the rotation")
	}
}

// `seed` with no configuration (make run) makes demo stores with connected demo accounts on
// INSTAGRAM, NAVER and KAKAO (under the development key) and attaches the demo events (also
// those of a database seeded before stores existed); a second seed adds nothing.
func TestCLISeedDemoStores(t *testing.T) {
	t.Parallel()
	url := dbtest.NewURL(t)
	env := []string{"DATABASE_URL=" + url, "LOG_LEVEL=error"}
	store := openStore(t, url)
	ctx, cancel := qctx()
	defer cancel()
	for i := 0; i < 2; i++ {
		if code, _, errOut := runCLI(t, env, "", "seed"); code != 0 {
			t.Fatalf("seed %d: exit %d: %s", i+1, code, errOut)
		}
		if i == 0 { // as a database seeded before stores existed: the next seed attaches its events
			if _, err := store.Pool.Exec(ctx, `UPDATE events SET store_id = NULL`); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stores, accounts, connected, eventsWithout, audits int
	if err := store.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM stores), (SELECT count(*) FROM channel_accounts),
		(SELECT count(*) FROM channel_accounts WHERE status = 'connected' AND channel IN ('INSTAGRAM', 'NAVER', 'KAKAO')),
		(SELECT count(*) FROM events WHERE store_id IS NULL),
		(SELECT count(*) FROM audit_log WHERE action = 'account.set')`).Scan(&stores, &accounts, &connected, &eventsWithout, &audits); err != nil {
		t.Fatal(err)
	}
	if stores == 0 || accounts != 3*stores || connected != accounts || eventsWithout != 0 || audits != accounts {
		t.Errorf("after two seeds: %d stores, %d accounts (%d connected), %d events without a store, %d account audits",
			stores, accounts, connected, eventsWithout, audits)
	}
	// The demo credentials are sealed with the development key, which works only without CHANNELS_CONFIG.
	keys, dev, err := config.Default().SecretsKeysOrDev()
	if err != nil || !dev {
		t.Fatalf("development key: %v, %v", dev, err)
	}
	ring, err := secrets.New(keys.Current, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := store.AccountCredentials(ctx, "demo-happy-bakery", model.ChannelKakao, ring); err != nil || !strings.Contains(string(got), "senderKey") {
		t.Errorf("demo KAKAO credentials: %q, %v", got, err)
	}
	code, list, _ := runCLI(t, env, "", "account", "list")
	if code != 0 || strings.Count(list, "connected") != accounts || strings.Contains(list, "demo-ig-token") {
		t.Errorf("account list after seed:\n%s", list)
	}
}
