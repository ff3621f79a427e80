package config

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func secretsEnv(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestSecretsKeys(t *testing.T) {
	t.Parallel()
	k1 := base64.StdEncoding.EncodeToString([]byte(strings.Repeat("a", 32)))
	k2 := base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("b", 32)))
	file := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(file, []byte(k1+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(secretsEnv(map[string]string{"SECRETS_KEY": k1, "SECRETS_KEY_PREVIOUS": k2}))
	if err != nil || string(c.Secrets.Current) != strings.Repeat("a", 32) || string(c.Secrets.Previous) != strings.Repeat("b", 32) {
		t.Fatalf("SECRETS_KEY: %v", err)
	}
	// The keys never print.
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "aaaa") || strings.Contains(s, k1) || strings.Contains(s, "97 97 97") {
			t.Errorf("a printed Config shows the key: %.200s", s)
		}
	}
	if err := c.RequireSecretsKey(); err != nil {
		t.Error(err)
	}
	c, err = Load(secretsEnv(map[string]string{"SECRETS_KEY_FILE": file}))
	if err != nil || string(c.Secrets.Current) != strings.Repeat("a", 32) {
		t.Fatalf("SECRETS_KEY_FILE: %v", err)
	}

	short := base64.StdEncoding.EncodeToString([]byte("short"))
	badFile := filepath.Join(t.TempDir(), "bad")
	os.WriteFile(badFile, []byte("not base64!"), 0o600) //nolint:errcheck
	for name, tc := range map[string]struct {
		env  map[string]string
		want string
	}{
		"bad base64":          {map[string]string{"SECRETS_KEY": "not base64!"}, "SECRETS_KEY:"},
		"wrong length":        {map[string]string{"SECRETS_KEY": short}, "SECRETS_KEY:"},
		"both":                {map[string]string{"SECRETS_KEY": k1, "SECRETS_KEY_FILE": file}, "SECRETS_KEY and SECRETS_KEY_FILE:"},
		"missing file":        {map[string]string{"SECRETS_KEY_FILE": "/nonexistent/key"}, "SECRETS_KEY_FILE:"},
		"bad file":            {map[string]string{"SECRETS_KEY_FILE": badFile}, "SECRETS_KEY_FILE:"},
		"bad previous":        {map[string]string{"SECRETS_KEY": k1, "SECRETS_KEY_PREVIOUS": short}, "SECRETS_KEY_PREVIOUS:"},
		"previous without it": {map[string]string{"SECRETS_KEY_PREVIOUS": k2}, "SECRETS_KEY_PREVIOUS:"},
	} {
		_, err := Load(secretsEnv(tc.env))
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want it to start with %q", name, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), k1) || strings.Contains(err.Error(), short) || strings.Contains(err.Error(), "not base64!") {
			t.Errorf("%s: the error repeats the key: %v", name, err)
		}
	}
}

// Without a key, the embedded simulator (no CHANNELS_CONFIG) uses the development key; a real
// channel configuration refuses, naming SECRETS_KEY.
func TestSecretsKeyRequired(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.RequireSecretsKey(); err == nil || !strings.HasPrefix(err.Error(), "SECRETS_KEY:") {
		t.Errorf("RequireSecretsKey without a key = %v", err)
	}
	keys, dev, err := c.SecretsKeysOrDev()
	if err != nil || !dev || len(keys.Current) != SecretsKeyBytes {
		t.Errorf("simulator without a key: %d-byte key, dev %v, %v", len(keys.Current), dev, err)
	}
	c.ChannelsConfig = "/etc/channels.json"
	if _, _, err := c.SecretsKeysOrDev(); err == nil || !strings.HasPrefix(err.Error(), "SECRETS_KEY:") {
		t.Errorf("a channel configuration without a key = %v", err)
	}
	c.Secrets.Current = make([]byte, 32)
	if keys, dev, err := c.SecretsKeysOrDev(); err != nil || dev || keys.Current == nil {
		t.Errorf("with a key: dev %v, %v", dev, err)
	}
}
