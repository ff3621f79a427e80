package views

// The one place numbers, times and impression schedules are formatted for people: every template
// and view helper calls these, so a date or a thousands separator reads the same on every page.

import (
	"context"
	"encoding/json"
	"math"
	"strconv"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Time zones (issue 15.4) are their own setting, independent of the language: the viewer's zone
// (their user setting, else the deployment's DEFAULT_TIMEZONE) travels in the render context, set
// once per request by the handlers (WithZone) and per feed by the live streams, so every time a
// template shows, however deep, is in the same zone.

// DefaultZoneName is the zone of a render that was given none (DEFAULT_TIMEZONE's default).
const DefaultZoneName = "Asia/Seoul"

// defaultZone is Asia/Seoul; the fixed UTC+9 (no daylight saving since 1988) stands in should the
// binary lack the tz database.
var defaultZone = func() *time.Location {
	if loc, err := time.LoadLocation(DefaultZoneName); err == nil {
		return loc
	}
	return time.FixedZone("KST", 9*60*60)
}()

type zoneKey struct{}

// WithZone returns ctx carrying loc as the zone times are shown in (nil leaves ctx as it is).
func WithZone(ctx context.Context, loc *time.Location) context.Context {
	if loc == nil {
		return ctx
	}
	return context.WithValue(ctx, zoneKey{}, loc)
}

// ZoneOf is the zone of a render (WithZone), Asia/Seoul when none was set.
func ZoneOf(ctx context.Context) *time.Location {
	if ctx != nil {
		if loc, ok := ctx.Value(zoneKey{}).(*time.Location); ok && loc != nil {
			return loc
		}
	}
	return defaultZone
}

// ZoneChoices are the zones the header's selector offers (the viewer's own is added when it is
// another): where the marketing platform's staff and partners work.
var ZoneChoices = []string{
	"Asia/Seoul", "UTC", "Asia/Tokyo", "Asia/Shanghai", "Asia/Singapore", "Asia/Ho_Chi_Minh",
	"Asia/Kolkata", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles",
	"Australia/Sydney",
}

// FormatTime formats t in loc, the zone named at the end ("2025-03-02 00:04:05 KST").
func FormatTime(loc *time.Location, t time.Time) string {
	return t.In(loc).Format("2006-01-02 15:04:05 MST")
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
func slotTime(loc *time.Location, s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.In(loc).Format("01-02 15:04")
}

// fmtSchedule summarises an impression schedule: "3 slots · 12 spots".
func fmtSchedule(lang string, slots []model.ImpressionSlot) string {
	return Tn(lang, "reports.slots_n", len(slots)) + " · " + Tn(lang, "reports.spots_n", scheduleSpots(slots))
}
