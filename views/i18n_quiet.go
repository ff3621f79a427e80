package views

import (
	"context"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// quietMessages are the KakaoTalk quiet hours pre-flight notes (issue 14).
var quietMessages = map[string][2]string{
	"preflight.kakao_quiet":       {"Quiet hours: KakaoTalk will be sent at {t}", "야간 발송 제한: 카카오톡은 {t}에 발송됩니다"},
	"preflight.kakao_quiet.retry": {"Quiet hours: a retry is sent at {t}", "야간 발송 제한: 다시 시도하면 {t}에 발송됩니다"},
}

type kakaoQuietKey struct{}

// WithKakaoQuiet returns ctx carrying the end of the KakaoTalk quiet hours in force at render time
// (the zero time: none), for the pre-flight notes of the start form and the retry button.
func WithKakaoQuiet(ctx context.Context, until time.Time) context.Context {
	return context.WithValue(ctx, kakaoQuietKey{}, until)
}

// KakaoQuietUntil is the end of the quiet hours a render was given (WithKakaoQuiet), and whether
// they are in force.
func KakaoQuietUntil(ctx context.Context) (time.Time, bool) {
	if ctx == nil {
		return time.Time{}, false
	}
	t, ok := ctx.Value(kakaoQuietKey{}).(time.Time)
	return t, ok && !t.IsZero()
}

// preflightText is the note next to ch's start checkbox or retry button (key: the note's catalogue
// key) when the channel would wait, "" when it would not: KakaoTalk during its quiet hours, with
// the hour it will be sent in the viewer's zone.
func preflightText(ctx context.Context, lang, key string, ch model.Channel) string {
	until, quiet := KakaoQuietUntil(ctx)
	if ch != model.ChannelKakao || !quiet {
		return ""
	}
	return strings.ReplaceAll(T(lang, key), "{t}", until.In(ZoneOf(ctx)).Format("15:04"))
}
