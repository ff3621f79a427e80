package config

import (
	"strings"
	"testing"
)

func TestInstagramReachRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want float64
		err  bool
	}{
		{"", 0.3, false}, {"0.5", 0.5, false}, {" 1 ", 1, false}, {"0.001", 0.001, false},
		{"0", 0, true}, {"-0.1", 0, true}, {"1.01", 0, true}, {"NaN", 0, true}, {"Inf", 0, true},
		{"abc", 0, true}, {"0.3\r\n", 0.3, false}, {"0.3\x00", 0, true}, {"\xff", 0, true},
	} {
		c, err := Load(func(k string) string {
			if k == "INSTAGRAM_REACH_RATE" {
				return tc.in
			}
			return ""
		})
		if (err != nil) != tc.err {
			t.Errorf("%q: error %v, want error %v", tc.in, err, tc.err)
			continue
		}
		if err != nil {
			if !strings.Contains(err.Error(), "INSTAGRAM_REACH_RATE") {
				t.Errorf("%q: error %v does not name the variable", tc.in, err)
			}
			continue
		}
		if c.InstagramReachRate != tc.want {
			t.Errorf("%q: rate %v, want %v", tc.in, c.InstagramReachRate, tc.want)
		}
	}
}
