package quiethours

import (
	"strings"
	"testing"
	"time"
)

func kst(y int, mo time.Month, d, h, m int) time.Time { return time.Date(y, mo, d, h, m, 0, 0, Seoul) }

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"20:50-08:00", "20:50-08:00"},
		{"  20:50 - 08:00 \n", "20:50-08:00"},
		{"\t8:00-9:30", "08:00-09:30"},
		{"00:00-23:59", "00:00-23:59"},
		{"23:00-00:00", "23:00-00:00"},
		{"off", "off"},
		{" OFF ", "off"},
	} {
		w, err := Parse(tc.in)
		if err != nil || w.String() != tc.want {
			t.Errorf("Parse(%q) = %v, %v; want %s", tc.in, w, err, tc.want)
		}
	}
	for _, in := range []string{
		"", " ", "20:50", "20:50-", "-08:00", "20:50-08:00-09:00", "08:00-08:00", " 8:00 - 08:00",
		"24:00-08:00", "20:60-08:00", "2050-0800", "20:5-08:00", "123:00-08:00", "+1:00-08:00",
		"20:50–08:00", "２０:50-08:00", "20:50-08:00\x00", "\xff", "on", strings.Repeat("1", 10000),
	} {
		if w, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %v, want an error", in, w)
		}
	}
	if _, err := Parse("08:00-08:00"); err == nil || !strings.Contains(err.Error(), "off") {
		t.Errorf("equal ends: %v (want a hint to use off)", err)
	}
}

func TestUntil(t *testing.T) {
	t.Parallel()
	night, _ := Parse(Default)
	day, _ := Parse("12:00-13:30")
	for _, tc := range []struct {
		name string
		w    Window
		now  time.Time
		want time.Time // zero = not quiet
	}{
		{"before the window", night, kst(2030, 1, 1, 20, 49), time.Time{}},
		{"window starts", night, kst(2030, 1, 1, 20, 50), kst(2030, 1, 2, 8, 0)},
		{"late evening", night, kst(2030, 1, 1, 23, 0), kst(2030, 1, 2, 8, 0)},
		{"after midnight", night, kst(2030, 1, 2, 3, 15), kst(2030, 1, 2, 8, 0)},
		{"last minute", night, kst(2030, 1, 2, 7, 59).Add(59 * time.Second), kst(2030, 1, 2, 8, 0)},
		{"window ends", night, kst(2030, 1, 2, 8, 0), time.Time{}},
		{"daytime", night, kst(2030, 1, 2, 8, 1), time.Time{}},
		{"month and year end", night, kst(2030, 12, 31, 22, 0), kst(2031, 1, 1, 8, 0)},
		// The clock is Seoul's whatever the caller's zone: 14:00 UTC is 23:00 KST.
		{"UTC instant", night, time.Date(2030, 1, 1, 14, 0, 0, 0, time.UTC), kst(2030, 1, 2, 8, 0)},
		{"UTC morning is Seoul's evening", night, time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC), time.Time{}},
		{"same-day window", day, kst(2030, 1, 1, 12, 30), kst(2030, 1, 1, 13, 30)},
		{"same-day window, outside", day, kst(2030, 1, 1, 13, 30), time.Time{}},
		{"off", Off, kst(2030, 1, 1, 23, 0), time.Time{}},
	} {
		got, quiet := tc.w.Until(tc.now)
		if quiet != !tc.want.IsZero() || !got.Equal(tc.want) {
			t.Errorf("%s: Until(%s) = %s, %v; want %s", tc.name, tc.now, got, quiet, tc.want)
		}
	}
	if night.EndClock() != "08:00" || !night.On() || Off.On() {
		t.Errorf("EndClock %q On %v", night.EndClock(), night.On())
	}
}
