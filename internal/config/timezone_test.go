package config_test

import (
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/config"
)

// TestDefaultTimezone (issue 15.4): DEFAULT_TIMEZONE is an IANA name, Asia/Seoul by default; a bad
// one stops the start with an error naming the variable and the value.
func TestDefaultTimezone(t *testing.T) {
	t.Parallel()
	c, err := config.Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DefaultTimezone == nil || c.DefaultTimezone.String() != "Asia/Seoul" {
		t.Errorf("default zone %v, want Asia/Seoul", c.DefaultTimezone)
	}
	for _, name := range []string{"UTC", "America/New_York", "Europe/Berlin"} {
		c, err := config.Load(env(map[string]string{"DEFAULT_TIMEZONE": name}))
		if err != nil || c.DefaultTimezone.String() != name {
			t.Errorf("DEFAULT_TIMEZONE=%s: zone %v, err %v", name, c.DefaultTimezone, err)
		}
	}
	for _, bad := range []string{"Mars/Olympus", "KST+9", "Local", "../../etc/passwd", "Asia/Seoul\x00", "아시아/서울"} {
		_, err := config.Load(env(map[string]string{"DEFAULT_TIMEZONE": bad}))
		if err == nil {
			t.Errorf("DEFAULT_TIMEZONE=%q accepted", bad)
			continue
		}
		if !strings.HasPrefix(err.Error(), "DEFAULT_TIMEZONE: ") || !strings.Contains(err.Error(), "IANA") {
			t.Errorf("DEFAULT_TIMEZONE=%q: error %q does not name the variable and what it wants", bad, err)
		}
	}
}
