// Package model holds the domain types of the distribution service: events, distributions,
// per-channel state, attempts, users and the one error vocabulary. It imports only the standard
// library so every other package can depend on it.
package model

import (
	"regexp"
	"slices"
	"strings"
	"time"
)

// Channel is one of the six distribution channels (DESIGN.md "The six channels").
type Channel string

const (
	ChannelUridongneTV Channel = "URIDONGNETV"
	ChannelRingoBiz    Channel = "RINGOBIZ"
	ChannelGiniTV      Channel = "GINITV"
	ChannelInstagram   Channel = "INSTAGRAM"
	ChannelNaver       Channel = "NAVER"
	ChannelKakao       Channel = "KAKAO"
)

// AllChannels lists the channels in display order: the one definition of that order (Order in
// Go, db's SQL ORDER BY is built from it).
var AllChannels = []Channel{ChannelUridongneTV, ChannelRingoBiz, ChannelGiniTV, ChannelInstagram, ChannelNaver, ChannelKakao}

var channelNames = map[Channel][2]string{
	ChannelUridongneTV: {"우리동네TV", "Uridongne TV"},
	ChannelRingoBiz:    {"링고비즈", "RingoBiz"},
	ChannelGiniTV:      {"지니TV", "Genie TV"},
	ChannelInstagram:   {"Instagram", "Instagram"},
	ChannelNaver:       {"네이버 블로그", "Naver Blog"},
	ChannelKakao:       {"카카오톡 채널", "KakaoTalk Channel"},
}

// Order is c's position in display order (AllChannels); an unknown channel sorts last.
func (c Channel) Order() int {
	if i := slices.Index(AllChannels, c); i >= 0 {
		return i
	}
	return len(AllChannels)
}

// Valid reports whether c is one of the six channels.
func (c Channel) Valid() bool { _, ok := channelNames[c]; return ok }

// Name returns the display name in Korean ("ko") or English (anything else).
func (c Channel) Name(lang string) string {
	n, ok := channelNames[c]
	if !ok {
		return string(c)
	}
	if lang == "ko" {
		return n[0]
	}
	return n[1]
}

// ParseChannel validates a channel code.
func ParseChannel(s string) (Channel, error) {
	c := Channel(s)
	if !c.Valid() {
		return "", Errork(EINVALID, "err.unknown_channel", "unknown channel %q", Truncate(s, 40))
	}
	return c, nil
}

// ParseChannels validates the channel list of a start, wherever it comes from (API body, page
// form, store): at least one, each known, none twice. It returns the channels in display order.
func ParseChannels[S ~string](list []S) ([]Channel, error) {
	if len(list) == 0 {
		return nil, Errork(EINVALID, "action.no_channels", "choose at least one channel")
	}
	seen := make(map[Channel]bool, len(list))
	for _, s := range list {
		c, err := ParseChannel(string(s))
		if err != nil {
			return nil, err
		}
		if seen[c] {
			return nil, Errork(EINVALID, "err.channel_twice", "channel %s is listed twice", c)
		}
		seen[c] = true
	}
	out := make([]Channel, 0, len(seen))
	for _, c := range AllChannels {
		if seen[c] {
			out = append(out, c)
		}
	}
	return out, nil
}

// ChannelStatus is a channel_status.status value.
type ChannelStatus string

const (
	StatusPending    ChannelStatus = "PENDING"
	StatusInProgress ChannelStatus = "IN_PROGRESS"
	StatusSuccess    ChannelStatus = "SUCCESS"
	StatusFailed     ChannelStatus = "FAILED"
)

// Terminal reports whether no more work is scheduled for the channel.
func (s ChannelStatus) Terminal() bool { return s == StatusSuccess || s == StatusFailed }

// Valid reports whether s is a known channel status.
func (s ChannelStatus) Valid() bool {
	switch s {
	case StatusPending, StatusInProgress, StatusSuccess, StatusFailed:
		return true
	}
	return false
}

// OverallStatus is a distribution_status.overall_status value.
type OverallStatus string

const (
	OverallInProgress     OverallStatus = "IN_PROGRESS"
	OverallCompleted      OverallStatus = "COMPLETED"
	OverallFailed         OverallStatus = "FAILED"
	OverallPartialSuccess OverallStatus = "PARTIAL_SUCCESS"
)

// Valid reports whether s is a known overall status.
func (s OverallStatus) Valid() bool {
	switch s {
	case OverallInProgress, OverallCompleted, OverallFailed, OverallPartialSuccess:
		return true
	}
	return false
}

// OverallNotStarted is a list filter only (events without a distribution), never a stored status.
const OverallNotStarted OverallStatus = "NOT_STARTED"

// ValidFilter reports whether s may filter the events list: a stored status or OverallNotStarted.
func (s OverallStatus) ValidFilter() bool { return s == OverallNotStarted || s.Valid() }

// Terminal reports whether the distribution has finished.
func (s OverallStatus) Terminal() bool { return s != OverallInProgress }

// Rollup computes the overall status from channel statuses (DESIGN.md): all SUCCESS → COMPLETED;
// all FAILED → FAILED; all terminal with both outcomes → PARTIAL_SUCCESS; otherwise IN_PROGRESS.
// Callers must hold a lock on the parent row while reading the statuses they pass in.
func Rollup(statuses []ChannelStatus) OverallStatus {
	if len(statuses) == 0 {
		return OverallInProgress
	}
	var ok, failed int
	for _, s := range statuses {
		switch s {
		case StatusSuccess:
			ok++
		case StatusFailed:
			failed++
		default:
			return OverallInProgress
		}
	}
	switch {
	case failed == 0:
		return OverallCompleted
	case ok == 0:
		return OverallFailed
	default:
		return OverallPartialSuccess
	}
}

var eventIDPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,36}$`)

// ValidEventID reports whether id is acceptable as an event id (a UUID also matches).
func ValidEventID(id string) bool { return eventIDPattern.MatchString(id) }

// Event is a marketing event that can be distributed.
type Event struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	ImageURL    string `json:"imageUrl"`
	StoreName   string `json:"storeName"`
	// StoreID is the store the event belongs to ("" = none); StoreName is then the store's name.
	StoreID   string    `json:"storeId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	// Distribution is filled by list/detail reads when the event has one.
	Distribution *Distribution `json:"distribution,omitempty"`
	// Schedule is filled by list/detail reads when the event's start is scheduled (an event has
	// a schedule or a distribution, never both).
	Schedule *Schedule `json:"schedule,omitempty"`
}

// Schedule is a distribution planned to start at StartAt, by the database clock, exactly as an
// immediate start by CreatedBy would.
type Schedule struct {
	EventID   string    `json:"eventId"`
	Channels  []Channel `json:"channels"`
	StartAt   time.Time `json:"startAt"`
	CreatedBy string    `json:"createdBy"`
	UpdatedAt time.Time `json:"-"`
}

// Bounds of a schedule's start time, measured from the database clock when it is written: a
// little in the past is accepted (the clocks of client and server differ; it starts at once),
// far ahead is not (a forgotten schedule firing months later helps nobody).
const (
	ScheduleMaxPast  = time.Minute
	ScheduleMaxAhead = 90 * 24 * time.Hour
)

// Distribution is one row of distribution_status with its channels.
type Distribution struct {
	ID            int64          `json:"-"`
	EventID       string         `json:"eventId"`
	OverallStatus OverallStatus  `json:"overallStatus"`
	StartedAt     time.Time      `json:"startedAt"`
	CompletedAt   *time.Time     `json:"completedAt"`
	CreatedAt     time.Time      `json:"-"`
	UpdatedAt     time.Time      `json:"updatedAt"`
	Channels      []ChannelState `json:"channels"`
	// Version grows by one with every UPDATE of the row (a trigger), so it orders the row's states
	// by commit; the cache never replaces a newer version with an older one.
	Version int64 `json:"-"`
}

// FillChannelEventIDs gives every channel state the distribution's event id where it has none
// (states read with their distribution, from Postgres or Redis, do not repeat it): the views name
// DOM ids and URLs after it.
func (d *Distribution) FillChannelEventIDs() {
	for i := range d.Channels {
		if d.Channels[i].EventID == "" {
			d.Channels[i].EventID = d.EventID
		}
	}
}

// Channel returns the state of one channel, or nil.
func (d *Distribution) Channel(c Channel) *ChannelState {
	for i := range d.Channels {
		if d.Channels[i].Channel == c {
			return &d.Channels[i]
		}
	}
	return nil
}

// ChannelState is one row of channel_status.
type ChannelState struct {
	ID                   int64         `json:"-"`
	DistributionStatusID int64         `json:"-"`
	EventID              string        `json:"-"`
	Channel              Channel       `json:"channel"`
	Status               ChannelStatus `json:"status"`
	Progress             int           `json:"progress"`
	DistributionID       *string       `json:"distributionId"`
	EstimatedViews       *int          `json:"estimatedViews"`
	// MeasuredViews is the platform's own count of the post's views (Instagram insights), nil
	// while unknown; MeasuredAt is when it was read (migration 0021).
	MeasuredViews *int       `json:"measuredViews"`
	MeasuredAt    *time.Time `json:"measuredAt"`
	// ImpressionSchedule is the stored JSON text (a JSON array of slots), or nil.
	ImpressionSchedule *string    `json:"-"`
	PostURL            *string    `json:"postUrl"`
	PostID             *string    `json:"postId"`
	MessageID          *string    `json:"messageId"`
	ErrorMessage       *string    `json:"errorMessage"`
	Retries            int        `json:"retries"`
	LastRetryAt        *time.Time `json:"lastRetryAt"`
	CompletedAt        *time.Time `json:"completedAt"`
	UpdateTimestamp    time.Time  `json:"-"`
	UpdatedAt          time.Time  `json:"updatedAt"`
	// WaitingReason says why the channel waits (nil while it runs or once it finished), and
	// NextAttemptAt when it runs next, when that is known.
	WaitingReason *WaitingReason `json:"waitingReason"`
	NextAttemptAt *time.Time     `json:"nextAttemptAt"`
	// Generation is the attempt generation that owns the row; bumped by every manual retry and
	// rescue. Only a writer holding the current generation may change the row (fence).
	Generation int `json:"-"`
	// Version grows by one with every UPDATE of the row (see Distribution.Version).
	Version int64 `json:"-"`
}

// ImpressionSlot is one ad slot of a TV channel's impression schedule.
type ImpressionSlot struct {
	Start string `json:"start"` // RFC 3339
	End   string `json:"end"`
	Slot  string `json:"slot"`  // e.g. "prime", "daytime"
	Spots int    `json:"spots"` // number of airings
}

// Attempt is one try of one channel (attempt history).
type Attempt struct {
	ID         int64      `json:"-"`
	EventID    string     `json:"-"`
	Channel    Channel    `json:"channel"`
	Attempt    int        `json:"attempt"`
	Generation int        `json:"-"`
	Trigger    string     `json:"trigger"` // "system", "retry:<email>", "bulk-retry:<email>", "rescue", "cancel:<email>"
	StartedAt  time.Time  `json:"startedAt"`
	FinishedAt *time.Time `json:"finishedAt"`
	Outcome    string     `json:"outcome"` // running, success, failed, retry, snoozed, lost, cancelled
	Error      *string    `json:"error"`
	HTTPStatus *int       `json:"httpStatus"`
}

// Attempt outcomes.
const (
	OutcomeRunning = "running"
	OutcomeSuccess = "success"
	OutcomeFailed  = "failed"  // final failure of the channel
	OutcomeRetry   = "retry"   // failed, will be retried automatically
	OutcomeSnoozed = "snoozed" // rate limited, rescheduled without burning an attempt
	OutcomeLost    = "lost"    // worker disappeared; rescued
	// OutcomeCancelled: stopped by a person's cancel (error "cancelled by <actor>"); a channel
	// cancelled while no attempt ran gets one such row with trigger "cancel:<actor>".
	OutcomeCancelled = "cancelled"
)

// Role is a user's or token's role.
type Role string

const (
	RoleMarketer Role = "marketer"
	RoleStaff    Role = "staff"
	RoleManager  Role = "manager"
)

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleMarketer, RoleStaff, RoleManager:
		return r, nil
	}
	return "", Errork(EINVALID, "err.unknown_role", "unknown role %q (want marketer, staff or manager)", Truncate(s, 40))
}

func (r Role) rank() int {
	switch r {
	case RoleMarketer:
		return 1
	case RoleStaff:
		return 2
	case RoleManager:
		return 3
	}
	return 0
}

// AtLeast reports whether r includes the permissions of min (marketer < staff < manager).
func (r Role) AtLeast(min Role) bool { return r.rank() > 0 && r.rank() >= min.rank() }

// CanRetry reports whether the role may retry channels.
func (r Role) CanRetry() bool { return r.AtLeast(RoleStaff) }

// CanManage reports whether the role may see reports, audit, users and tokens.
func (r Role) CanManage() bool { return r.AtLeast(RoleManager) }

// User is a person who logs in to the dashboard.
type User struct {
	ID           int64     `json:"id"`
	Email        string    `json:"email"`
	Role         Role      `json:"role"`
	Disabled     bool      `json:"disabled"`
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"createdAt"`
	// Service marks a service account ("service:<name>"): it owns machines' API tokens and has no
	// password, so it never logs in.
	Service bool `json:"service,omitempty"`
	// TimeZone is the IANA zone the user reads times in ("" = the deployment's DEFAULT_TIMEZONE).
	TimeZone string `json:"timeZone,omitempty"`
}

// Principal is whoever makes a request: a logged-in user or an API token.
type Principal struct {
	UserID    int64  // 0 for tokens
	TokenID   int64  // 0 for sessions
	Name      string // email or token name, for audit and attempt triggers
	Role      Role
	SessionID string // hashed session id, empty for tokens
	// OwnerID is the user a token belongs to (0 for sessions and for legacy tokens without one):
	// the token works only while that user is enabled and holds at least the token's role.
	OwnerID int64
	// TokenExpiry is when the token expires, by this process's clock (zero: never).
	TokenExpiry time.Time
	// TimeZone is the IANA zone of the user (a token's: its owner's) for times shown and day
	// boundaries; "" = the deployment's DEFAULT_TIMEZONE.
	TimeZone string
}

// AuditEntry is one row of the audit log.
type AuditEntry struct {
	ID      int64     `json:"id"`
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Action  string    `json:"action"`
	EventID string    `json:"eventId,omitempty"`
	Channel string    `json:"channel,omitempty"`
	Detail  string    `json:"detail,omitempty"`
	IP      string    `json:"ip,omitempty"`
}

// EventFilter selects events for the list page and GET /api/v1/events. Zero fields do not filter.
type EventFilter struct {
	Q             string        // matches event id, title, store name, distribution_id, post_id, message_id or post_url (db.FindEvents)
	Status        OverallStatus // overall status of the event's distribution; OverallNotStarted: none
	Channel       Channel       // the event's distribution includes this channel...
	ChannelStatus ChannelStatus // ...(or any channel, when Channel is empty) in this status
	Cursor        string        // opaque keyset cursor from a previous page: the rows after it
	Before        string        // opaque keyset cursor: the page of rows before it (going back); Cursor wins
	Limit         int           // page size; the store clamps it to 1..100, default 25
}

// EventPage is one keyset page of events, newest first.
type EventPage struct {
	Events     []Event
	NextCursor string // "" on the last page
	PrevCursor string // "" on the first page: the Before of the previous page
}

// CancelledPrefix starts the error message of a channel a person cancelled (DESIGN.md "Cancel").
const CancelledPrefix = "cancelled"

// CancelMessage is the error message of a channel cancelled by actor.
func CancelMessage(actor string) string {
	if actor == "" {
		return CancelledPrefix
	}
	return CancelledPrefix + " by " + actor
}

// Cancelled reports whether the channel ended FAILED because a person cancelled it.
func (c ChannelState) Cancelled() bool {
	return c.Status == StatusFailed && c.ErrorMessage != nil && strings.HasPrefix(*c.ErrorMessage, CancelledPrefix)
}

// Cancellable reports whether a cancel would stop the channel (PENDING or IN_PROGRESS).
func (c ChannelState) Cancellable() bool {
	return c.Status == StatusPending || c.Status == StatusInProgress
}
