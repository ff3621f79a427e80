package views

import (
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
)

// quietMessages are the KakaoTalk quiet hours pre-flight notes (issue 14).
var quietMessages = map[string][2]string{
	"preflight.kakao_quiet":       {"Quiet hours: KakaoTalk will be sent at {t}", "야간 발송 제한: 카카오톡은 {t}에 발송됩니다"},
	"preflight.kakao_quiet.retry": {"Quiet hours: a retry is sent at {t}", "야간 발송 제한: 다시 시도하면 {t}에 발송됩니다"},
}

// preflightText is the note next to ch's start checkbox or retry button (key: the note's catalogue
// key) when the channel would wait, "" when it would not: KakaoTalk during its quiet hours
// (p.KakaoQuiet at p.Now, the render time), with the hour it will be sent in the viewer's zone.
func preflightText(p Page, key string, ch model.Channel) string {
	if ch != model.ChannelKakao || !p.KakaoQuiet.On() {
		return ""
	}
	now := p.Now
	if now.IsZero() {
		now = time.Now()
	}
	until, quiet := p.KakaoQuiet.Until(now)
	if !quiet {
		return ""
	}
	return strings.ReplaceAll(p.T(key), "{t}", until.In(p.Loc()).Format("15:04"))
}
