package views

// Props and helpers of the pages only managers see: reports with their charts, the audit log,
// users and API tokens. The charts are plain SVG computed here, so no chart library is loaded.

import (
	"math"
	"strconv"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// ReportView is the reports page.
type ReportView struct {
	From, To string        // the range as entered, YYYY-MM-DD inclusive, in the reader's zone
	Channel  model.Channel // "" = every channel
	Error    string        // user-safe message of a bad filter (the page answers 400)

	Report model.Report
	Rows   []model.ReportRow
	// NextURL continues the per-event rows, PrevURL goes back one page, FirstURL to their first
	// page ("" = none). TotalRows is how many rows the report has in all (every page).
	NextURL, PrevURL, FirstURL string
	TotalRows                  int
	PageSize                   int   // rows per page
	PageSizes                  []int // the sizes a reader may choose
	ExportURL                  string
	ExportXLSXURL              string

	// Days are the days of the range in order; Daily the outcomes per day and channel.
	Days  []time.Time
	Daily []model.DailyCount

	HealthHours int
	Health      []model.HealthBucket
	FailedNow   map[model.Channel]int
	// Breakers are the channels' circuit breakers (display order): paused ones say until when.
	Breakers []model.BreakerStatus
}

// Ready reports whether the page has data to show (the filter was valid).
func (v ReportView) Ready() bool { return v.Error == "" }

// AuditView is the audit log page.
type AuditView struct {
	Actor, Action, EventID string
	From, To               string // YYYY-MM-DD inclusive, reader's zone
	Error                  string
	Entries                []model.AuditEntry
	NextURL, FirstURL      string
}

// UsersView is the users page.
type UsersView struct {
	Q      string
	Users  []model.User
	SelfID int64 // the viewer's own user id (no disable button on their own row)
	Flash  Flash
	Error  string
	// NewEmail and NewRole refill the create form after an error.
	NewEmail string
	NewRole  model.Role

	// LockedOut marks the users (by id) locked out of logging in: their row offers "clear lockout".
	LockedOut map[int64]bool
}

// TokenRow is one API token on the tokens page.
type TokenRow struct {
	ID         int64
	Name       string
	Role       model.Role
	CreatedBy  string
	CreatedAt  time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	// Owner is the email of the user the token belongs to ("" for a legacy token without one);
	// OwnerService marks a service account.
	Owner        string
	OwnerService bool
	ExpiresAt    *time.Time // nil: never
	Expired      bool
	// OwnerBlocked: neither revoked nor expired, yet refused, because its owner is disabled or no
	// longer holds the token's role.
	OwnerBlocked bool
}

// TokensView is the API tokens page.
type TokensView struct {
	Tokens []TokenRow
	Flash  Flash
	Error  string
	// NewToken is the plaintext of a token created by this very request: shown once, never again.
	NewToken     string
	NewTokenName string
	// NewName, NewRole and NewExpires refill the create form after an error.
	NewName    string
	NewRole    model.Role
	NewExpires string
}

// newRole is the create form's role: the one just tried, else marketer.
func (v TokensView) newRole() model.Role {
	if v.NewRole == "" {
		return model.RoleMarketer
	}
	return v.NewRole
}

// Roles lists the roles in rank order (select options).
var Roles = []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager}

// f1 formats a chart coordinate.
func f1(x float64) string { return strconv.FormatFloat(math.Round(x*10)/10, 'f', -1, 64) }

// Chart geometry. All charts draw in their own viewBox and scale to the page width.
const (
	chartW      = 720.0
	chartLabelW = 150.0 // channel names on the left
	chartValueW = 90.0  // values on the right
	barH        = 22.0
	barGap      = 10.0
)

// hBar is one horizontal bar of the views chart.
type hBar struct {
	Label, Value string
	Y, W         float64
}

func viewsBars(lang string, r model.Report) []hBar {
	var maxV int64
	for _, t := range r.Channels {
		maxV = max(maxV, t.EstimatedViews)
	}
	span := chartW - chartLabelW - chartValueW
	bars := make([]hBar, len(r.Channels))
	for i, t := range r.Channels {
		w := 0.0
		if maxV > 0 {
			w = span * float64(t.EstimatedViews) / float64(maxV)
		}
		bars[i] = hBar{Label: t.Channel.Name(lang), Value: FormatInt(lang, t.EstimatedViews), Y: float64(i) * (barH + barGap), W: w}
	}
	return bars
}

func viewsChartH(r model.Report) float64 {
	return math.Max(barH, float64(len(r.Channels))*(barH+barGap)-barGap)
}

// dayRow is one channel's row of the per-day chart: a stacked column per day.
type dayRow struct {
	Channel model.Channel
	Y       float64
	Cols    []dayCol
	Ok      int
	Failed  int
	Other   int
}

type dayCol struct {
	Day                string
	X, W               float64
	OkY, OkH           float64
	FailY, FailH       float64
	OtherY, OtherH     float64
	Ok, Failed, Others int
}

const dayRowH = 56.0 // height of one channel's row of columns
const dayRowGap = 18.0

func dailyRows(v ReportView) []dayRow {
	cells := map[string]model.DailyCount{}
	var chans []model.Channel
	seen := map[model.Channel]bool{}
	peak := 0
	for _, c := range v.Daily {
		cells[fmtDate(c.Day)+"/"+string(c.Channel)] = c
		seen[c.Channel] = true
		peak = max(peak, c.Succeeded+c.Failed+c.InFlight)
	}
	for _, c := range model.AllChannels {
		if seen[c] {
			chans = append(chans, c)
		}
	}
	n := max(1, len(v.Days))
	span := chartW - chartLabelW - chartValueW
	slot := span / float64(n)
	w := math.Max(1, slot*0.8)
	rows := make([]dayRow, len(chans))
	for i, ch := range chans {
		r := dayRow{Channel: ch, Y: float64(i) * (dayRowH + dayRowGap)}
		for j, d := range v.Days {
			c := cells[fmtDate(d)+"/"+string(ch)]
			col := dayCol{Day: fmtDate(d), X: chartLabelW + float64(j)*slot + (slot-w)/2, W: w,
				Ok: c.Succeeded, Failed: c.Failed, Others: c.InFlight}
			scale := 0.0
			if peak > 0 {
				scale = dayRowH / float64(peak)
			}
			base := r.Y + dayRowH
			col.OkH = float64(c.Succeeded) * scale
			col.OkY = base - col.OkH
			col.FailH = float64(c.Failed) * scale
			col.FailY = col.OkY - col.FailH
			col.OtherH = float64(c.InFlight) * scale
			col.OtherY = col.FailY - col.OtherH
			r.Ok += c.Succeeded
			r.Failed += c.Failed
			r.Other += c.InFlight
			r.Cols = append(r.Cols, col)
		}
		rows[i] = r
	}
	return rows
}

func dailyChartH(rows []dayRow) float64 {
	return math.Max(dayRowH, float64(len(rows))*(dayRowH+dayRowGap)-dayRowGap)
}

// healthRow is one channel's strip: one cell per hour, oldest on the left.
type healthRow struct {
	Channel   model.Channel
	Y         float64
	Cells     []healthCell
	Ok, Bad   int
	FailedNow int
}

type healthCell struct {
	X, W     float64
	HoursAgo int
	Ok, Bad  int
	Class    string
}

const healthRowH = 20.0
const healthRowGap = 8.0

func healthRows(v ReportView) []healthRow {
	hours := max(1, v.HealthHours)
	by := map[string]model.HealthBucket{}
	for _, b := range v.Health {
		by[string(b.Channel)+"/"+strconv.Itoa(b.HoursAgo)] = b
	}
	span := chartW - chartLabelW - chartValueW
	slot := span / float64(hours)
	rows := make([]healthRow, len(model.AllChannels))
	for i, ch := range model.AllChannels {
		r := healthRow{Channel: ch, Y: float64(i) * (healthRowH + healthRowGap), FailedNow: v.FailedNow[ch]}
		for k := hours - 1; k >= 0; k-- {
			b := by[string(ch)+"/"+strconv.Itoa(k)]
			col := hours - 1 - k
			r.Ok += b.Succeeded
			r.Bad += b.Failed
			r.Cells = append(r.Cells, healthCell{X: chartLabelW + float64(col)*slot + 1, W: math.Max(1, slot-2),
				HoursAgo: k, Ok: b.Succeeded, Bad: b.Failed, Class: healthClass(b)})
		}
		rows[i] = r
	}
	return rows
}

func healthChartH() float64 {
	return float64(len(model.AllChannels))*(healthRowH+healthRowGap) - healthRowGap
}

// healthClass colours an hour by its failure rate: grey = no attempts, green < 10 %, amber < 50 %,
// red otherwise. The table alternative carries the numbers; colour is never the only signal.
func healthClass(b model.HealthBucket) string {
	r, ok := b.FailureRate()
	switch {
	case !ok:
		return "fill-gray-200 dark:fill-gray-800"
	case r < 0.1:
		return "fill-emerald-500 dark:fill-emerald-400"
	case r < 0.5:
		return "fill-amber-400 dark:fill-amber-300"
	}
	return "fill-red-600 dark:fill-red-400"
}

func healthRate(lang string, ok, bad int) string {
	r, has := model.HealthBucket{Succeeded: ok, Failed: bad}.FailureRate()
	if !has {
		return "—"
	}
	return FormatPercent(lang, r)
}

// RetryChannelURL is the bulk retry page preset to every failed channel of ch (the dashboard's
// GET /retries shows the count and asks for confirmation before anything is retried).
func RetryChannelURL(ch model.Channel) string { return "/retries?check=1&channel=" + string(ch) }

func viewBox(h float64) string { return "0 0 " + f1(chartW) + " " + f1(h) }

// auditActionName is the display name of an audit action (unknown actions as stored).
func auditActionName(lang, action string) string {
	if _, ok := managerMessages["audit.action."+action]; ok {
		return T(lang, "audit.action."+action)
	}
	return action
}

func userIDStr(id int64) string { return strconv.FormatInt(id, 10) }
