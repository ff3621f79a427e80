package config_test

import (
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/config"
)

// KAKAO_QUIET_HOURS (issue 14): 20:50-08:00 by default, "off" disables, a bad value stops the
// start with an error naming the variable.
func TestKakaoQuietHours(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"": "20:50-08:00", "  ": "20:50-08:00", "off": "off", "21:00 - 08:00": "21:00-08:00"} {
		c, err := config.Load(env(map[string]string{"KAKAO_QUIET_HOURS": in}))
		if err != nil || c.KakaoQuietHours.String() != want {
			t.Errorf("KAKAO_QUIET_HOURS=%q: %v %v, want %s", in, c.KakaoQuietHours, err, want)
		}
	}
	if d := config.Default(); d.KakaoQuietHours.String() != "20:50-08:00" {
		t.Errorf("default %v", d.KakaoQuietHours)
	}
	for _, bad := range []string{"20:50", "08:00-08:00", "25:00-08:00", "night", "20:50-08:00\x00"} {
		_, err := config.Load(env(map[string]string{"KAKAO_QUIET_HOURS": bad}))
		if err == nil || !strings.HasPrefix(err.Error(), "KAKAO_QUIET_HOURS: ") {
			t.Errorf("KAKAO_QUIET_HOURS=%q: error %v, want one naming the variable", bad, err)
		}
	}
}
