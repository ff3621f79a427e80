package views

// The one place numbers, times and impression schedules are formatted for people: every template
// and view helper calls these, so a date or a thousands separator reads the same on every page.

import (
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// kst is Korea Standard Time: UTC+9 all year (no daylight saving since 1988), so a fixed zone is
// exact and needs no tz database on the server.
var kst = time.FixedZone("KST", 9*60*60)

// Location is the time zone times are shown in for lang: Asia/Seoul for Korean, UTC otherwise.
func Location(lang string) *time.Location {
	if lang == LangKO {
		return kst
	}
	return time.UTC
}

// FormatTime formats t for people reading lang (their zone named at the end).
func FormatTime(lang string, t time.Time) string {
	return t.In(Location(lang)).Format("2006-01-02 15:04:05 MST")
}

// isoTime is the machine-readable instant of a <time datetime>.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// UnixMilli is the data-updated-at value of a channel: the unix milliseconds of its state.
func UnixMilli(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// fmtDate formats a report day (already in the reader's zone) as YYYY-MM-DD.
func fmtDate(t time.Time) string { return t.Format("2006-01-02") }

func fmtInt(lang string, n int) string { return FormatInt(lang, int64(n)) }

// FormatPercent formats a rate in [0,1] as "95.2%".
func FormatPercent(lang string, r float64) string {
	_ = lang
	return strconv.FormatFloat(math.Round(r*1000)/10, 'f', 1, 64) + "%"
}

// successRate is a channel's success rate, or "—" when nothing finished.
func successRate(lang string, t model.ChannelTotals) string {
	if r, ok := t.SuccessRate(); ok {
		return FormatPercent(lang, r)
	}
	return "—"
}

// viewsOf is an estimated view count, or "—" when the channel reported none.
func viewsOf(lang string, v *int) string {
	if v == nil {
		return "—"
	}
	return fmtInt(lang, *v)
}

// schedule parses a stored impression schedule (a JSON array of slots); nil when absent or bad.
func schedule(s *string) []model.ImpressionSlot {
	if s == nil || *s == "" {
		return nil
	}
	var slots []model.ImpressionSlot
	if err := json.Unmarshal([]byte(*s), &slots); err != nil {
		return nil
	}
	return slots
}

func scheduleSpots(slots []model.ImpressionSlot) int {
	n := 0
	for _, s := range slots {
		n += s.Spots
	}
	return n
}

// slotTime formats one end of a slot (RFC 3339 text) in the reader's zone ("03-10 19:00");
// unparsable text is shown as it is (a text node).
func slotTime(lang, s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(Location(lang)).Format("01-02 15:04")
}

// fmtSchedule summarises an impression schedule: "3 slots · 12 spots".
func fmtSchedule(lang string, slots []model.ImpressionSlot) string {
	return Tn(lang, "reports.slots_n", len(slots)) + " · " + Tn(lang, "reports.spots_n", scheduleSpots(slots))
}
