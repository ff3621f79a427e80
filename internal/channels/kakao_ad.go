package channels

import (
	"strings"

	"github.com/marketing-platform/distribution/internal/model"
)

// KakaoTalk advertising message rules (정보통신망법 제50조 ④ and Kakao's message policy): an
// advertising message starts with "(광고)" and tells the friend how to stop receiving them. Every
// KAKAO message of this service is an advertisement (marketing events are advertisements).
//
// Kakao: "광고성 내용이 포함된 경우 메시지 맨 앞에 (광고)를 표시해야" and the message's foot
// carries "수신거부 및 수신 동의 철회 방법" (https://cs.kakao.com/helps_html/1073199206?locale=ko);
// for channel friends the way to opt out is blocking the channel, worded as Kakao's own friend
// messages do. The night-time rule is in package quiethours.
const (
	// KakaoAdPrefix starts the title of every KAKAO message.
	KakaoAdPrefix = "(광고)"
	// KakaoOptOut is the last line of every KAKAO message.
	KakaoOptOut = "수신거부 | 홈 > 채널 차단"
)

// kakaoAd composes the advertising message for KAKAO: the title gets the prefix (once: a title that
// already starts with it, as a retry's or a marketer's own, is not prefixed again) and the
// description ends with the opt-out line (once). The marketer's text is kept byte for byte. Other
// channels' text is returned unchanged.
func kakaoAd(ch model.Channel, title, description string) (string, string) {
	if ch != model.ChannelKakao {
		return title, description
	}
	if !strings.HasPrefix(title, KakaoAdPrefix) {
		title = KakaoAdPrefix + " " + title
	}
	switch {
	case description == "":
		description = KakaoOptOut
	case !strings.HasSuffix(description, KakaoOptOut):
		description += "\n\n" + KakaoOptOut
	}
	return title, description
}
