package model

import "time"

// Stuck thresholds: TV channels book ad slots through slower partner systems and legitimately take
// longer than the online channels.
const (
	StuckAfterTV      = 15 * time.Minute
	StuckAfterDefault = 5 * time.Minute
)

// StuckThreshold is how long a channel may sit PENDING or IN_PROGRESS without any change before
// the UI flags it as stuck.
func StuckThreshold(c Channel) time.Duration {
	switch c {
	case ChannelUridongneTV, ChannelGiniTV:
		return StuckAfterTV
	}
	return StuckAfterDefault
}

// Stuck reports whether cs has been PENDING or IN_PROGRESS for longer than its channel's threshold
// without a change (progress, attempt or status) at now. A channel that keeps progressing is slow,
// not stuck. Pass the database clock's now where there is one (DESIGN.md: business times come from
// the database); a small skew only moves the flag by that much.
func Stuck(cs ChannelState, now time.Time) bool {
	if cs.Status != StatusPending && cs.Status != StatusInProgress {
		return false
	}
	last := cs.UpdateTimestamp
	if last.IsZero() {
		last = cs.UpdatedAt
	}
	if last.IsZero() {
		return false
	}
	return now.Sub(last) > StuckThreshold(cs.Channel)
}
