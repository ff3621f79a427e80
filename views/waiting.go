package views

import (
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// Waiting reasons and paused channels in words (issue 13 point 5): a channel that is not running
// says why and until when, on the cards, the list bars and the reports health strip. {t} is the
// time of day (HH:MM:SS) in the reader's zone.
var waitingMessages = map[string][2]string{
	"wait.queued":              {"Queued: waiting for a free worker", "대기 중: 작업 순서를 기다리는 중"},
	"wait.retry_backoff":       {"Waiting: retrying at {t}", "대기 중: {t}에 다시 시도"},
	"wait.retry_backoff.soon":  {"Waiting: retrying shortly", "대기 중: 곧 다시 시도"},
	"wait.rate_limited":        {"Rate limited by the channel: retrying at {t}", "채널 요청 한도 초과: {t}에 다시 시도"},
	"wait.rate_limited.soon":   {"Rate limited by the channel: retrying shortly", "채널 요청 한도 초과: 곧 다시 시도"},
	"wait.channel_paused":      {"Channel paused until {t}", "일시 중지: {t}까지"},
	"wait.channel_paused.soon": {"Channel paused: a test call is in progress", "일시 중지: 채널 확인 중"},
	"wait.quiet_hours":         {"Quiet hours: sending at {t}", "야간 발송 제한: {t}에 발송"},
	"wait.quiet_hours.soon":    {"Quiet hours: sending when they end", "야간 발송 제한: 제한 시간이 끝나면 발송"},
	"wait.scheduled":           {"Scheduled: starts at {t}", "예약됨: {t}에 시작"},
	"wait.scheduled.soon":      {"Scheduled", "예약됨"},
	"breaker.title":            {"Channel circuit breakers", "채널 차단기"},
	"breaker.closed":           {"Working", "정상"},
	"breaker.paused":           {"Paused until {t}", "일시 중지: {t}까지"},
	"breaker.probing":          {"Paused: a test call is in progress", "일시 중지: 채널 확인 중"},
	"breaker.probe":            {"Probe now", "지금 확인"},
	"breaker.probed":           {"A test call to the channel was requested", "채널 확인 호출을 요청했습니다"},
}

// ClockTime is t's time of day in the reader's zone loc (HH:MM:SS).
func ClockTime(loc *time.Location, t time.Time) string { return t.In(loc).Format("15:04:05") }

// withTime puts the time of day into a message's {t}; without a time (or one already past at
// now) the ".soon" variant is used.
func withTime(lang string, loc *time.Location, key string, at *time.Time, now time.Time) string {
	if at == nil || at.IsZero() || (!now.IsZero() && !at.After(now)) {
		return T(lang, key+".soon")
	}
	return strings.ReplaceAll(T(lang, key), "{t}", ClockTime(loc, *at))
}

// WaitingText is why a channel waits, in words ("" when it does not wait: running or finished),
// its times in loc.
func WaitingText(lang string, loc *time.Location, c model.ChannelState, now time.Time) string {
	if c.WaitingReason == nil || c.Status.Terminal() || !c.WaitingReason.Valid() {
		return ""
	}
	if *c.WaitingReason == model.WaitQueued {
		return T(lang, "wait.queued")
	}
	return withTime(lang, loc, "wait."+string(*c.WaitingReason), c.NextAttemptAt, now)
}

// BreakerText is a channel's breaker on the health strip: working, or paused until when.
func BreakerText(lang string, loc *time.Location, st model.BreakerStatus, now time.Time) string {
	if !st.Paused() {
		return T(lang, "breaker.closed")
	}
	if st.OpenUntil.IsZero() || (!now.IsZero() && !st.OpenUntil.After(now)) {
		return T(lang, "breaker.probing")
	}
	return strings.ReplaceAll(T(lang, "breaker.paused"), "{t}", ClockTime(loc, st.OpenUntil))
}
