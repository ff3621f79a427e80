package model

import "time"

// ReportFilter selects what the manager reports (page, charts and CSV) cover: distributions
// started in [From, To), optionally one channel only.
type ReportFilter struct {
	From    time.Time
	To      time.Time
	Channel Channel // "" = every channel
	Cursor  string  // opaque keyset cursor of the per-event rows (page only): the rows after it
	// Before (page only, instead of Cursor) asks for the page of rows just before that cursor:
	// the previous page.
	Before string
	Limit  int // rows per page; the store clamps it to 1..500, default 200
}

// ChannelTotals sums one channel's rows of a report.
type ChannelTotals struct {
	Channel        Channel
	Distributions  int   // distributions that include the channel
	Succeeded      int   // ... where it is SUCCESS
	Failed         int   // ... where it is FAILED
	EstimatedViews int64 // sum over SUCCESS rows
	// MeasuredViews sums the measured views of the SUCCESS rows that have one; nil when none
	// has (migration 0021).
	MeasuredViews *int64
}

// InFlight is how many of the channel's distributions are still PENDING or IN_PROGRESS.
func (t ChannelTotals) InFlight() int { return t.Distributions - t.Succeeded - t.Failed }

// SuccessRate is Succeeded / (Succeeded + Failed): in-flight channels do not count either way.
// ok is false when nothing has finished yet.
func (t ChannelTotals) SuccessRate() (rate float64, ok bool) {
	done := t.Succeeded + t.Failed
	if done == 0 {
		return 0, false
	}
	return float64(t.Succeeded) / float64(done), true
}

// Report is the summary of a ReportFilter: one line per channel (display order, channels without
// rows omitted), the sum of those lines, and the number of distinct events.
type Report struct {
	Channels []ChannelTotals
	Total    ChannelTotals // Channel is ""
	Events   int
}

// ReportRow is one channel of one distribution, with what the report shows about its event.
type ReportRow struct {
	ChannelState
	Title         string
	OverallStatus OverallStatus
	StartedAt     time.Time // the distribution's start
}

// ReportPage is one keyset page of report rows: newest distribution first, channels in display
// order within a distribution.
type ReportPage struct {
	Rows       []ReportRow
	NextCursor string // "" on the last page
	PrevCursor string // "" on the first page: the Before of the previous page
}

// DailyCount is how one channel's rows of distributions started on Day ended (so far).
type DailyCount struct {
	Day       time.Time // midnight of the day in the report's zone, as a UTC date
	Channel   Channel
	Succeeded int
	Failed    int
	InFlight  int
}

// HealthBucket counts one channel's finished attempts in one hour: HoursAgo 0 is the last hour.
type HealthBucket struct {
	Channel   Channel
	HoursAgo  int
	Succeeded int // attempts that published
	Failed    int // attempts that failed (final or retried) or were lost
}

// FailureRate is Failed / (Succeeded + Failed); ok is false for an hour without attempts.
func (b HealthBucket) FailureRate() (rate float64, ok bool) {
	n := b.Succeeded + b.Failed
	if n == 0 {
		return 0, false
	}
	return float64(b.Failed) / float64(n), true
}

// AuditFilter selects audit entries. Zero fields do not filter.
type AuditFilter struct {
	Actor   string    // substring of the actor, case-insensitive
	Action  string    // exact action
	EventID string    // exact event id
	From    time.Time // at >= From
	To      time.Time // at < To
	Cursor  string    // opaque keyset cursor from a previous page
	Limit   int       // page size; the store clamps it to 1..200, default 50
}

// AuditPage is one keyset page of the audit log, newest first.
type AuditPage struct {
	Entries    []AuditEntry
	NextCursor string // "" on the last page
}

// Audit actions. Older rows may carry other spellings ("login", "user_add", "token_create",
// "distribution.start", "channel.retry", "channel.bulk_retry", "channel.rescue...").
const (
	AuditLogin        = "login"
	AuditLoginFailed  = "login_failed"
	AuditUserAdd      = "user_add"
	AuditUserRole     = "user.role"
	AuditUserDisable  = "user.disable"
	AuditUserEnable   = "user.enable"
	AuditUserPassword = "user.password_reset"
	AuditTokenCreate  = "token_create"
	AuditTokenRevoke  = "token.revoke"
	AuditStart        = "distribution.start"
	AuditRetry        = "channel.retry"
	AuditBulkRetry    = "channel.bulk_retry"
	AuditRescue       = "channel.rescue"
	AuditRescueFailed = "channel.rescue_failed"
)

// Audit actions of login throttling. AuditLoginThrottled rows aggregate the logins
// refused by throttling, one row per address and window, the detail counting them ("12 throttled
// attempts"); AuditUserUnlock is a manager clearing an account's lockout.
const (
	AuditLoginThrottled = "login_throttled"
	AuditUserUnlock     = "user.unlock"
)

// AuditActions lists the actions the audit page offers as a filter, in display order.
var AuditActions = []string{AuditLogin, AuditLoginFailed, AuditLoginThrottled, AuditUserAdd, AuditUserRole, AuditUserDisable,
	AuditUserEnable, AuditUserUnlock, AuditUserPassword, AuditTokenCreate, AuditTokenRevoke, AuditStart, AuditRetry,
	AuditBulkRetry, AuditRescue, AuditRescueFailed, AuditEventCreate, AuditEventUpdate, AuditEventDuplicate, AuditEventDelete}
