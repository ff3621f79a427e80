// Package quiethours is KakaoTalk's advertising quiet hours: the daily window, read on Korea's
// clock (Asia/Seoul, the law's clock, not the viewer's zone), during which advertising messages to
// channel friends are not sent.
//
// 정보통신망법 제50조 ③ forbids advertising messages between 21:00 and 08:00 without separate
// consent, and Kakao's dealers refuse them earlier: NHN Cloud's KakaoTalk Bizmessage documents
// "Since Brand Message is an advertising messages, it is restricted from being sent between
// 8:50 PM and 08:00 AM the next day in accordance with the Information and Communications Network
// Act" (https://docs.nhncloud.com/en/Notification/KakaoTalk%20Bizmessage/en/friendtalkupgrade-overview/),
// NAVER Cloud SENS restricted 친구톡 "야간(당일 20:00 ~ 다음 날 08:00까지)"
// (https://guide-gov.ncloud-docs.com/docs/sens-ftmessage) and restricts its successor, the brand
// message, "야간 발송 제한이 적용됩니다. (20:50~익일 8:00)"
// (https://api.ncloud-docs.com/docs/sens-brandmessage-send). The default is the dealer's window,
// 20:50-08:00; KAKAO_QUIET_HOURS changes it.
package quiethours

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Default is the window used when KAKAO_QUIET_HOURS is not set.
const Default = "20:50-08:00"

// Seoul is Korea's clock. Korea has kept UTC+9 without daylight saving since 1988, so a fixed zone
// is exact when the system has no time zone database.
var Seoul = func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Seoul"); err == nil {
		return loc
	}
	return time.FixedZone("KST", 9*60*60)
}()

// Window is a daily window [Start, End) in minutes after midnight, Seoul time; it may cross
// midnight (Start > End). The zero value is off: never quiet.
type Window struct {
	on         bool
	start, end int
}

// Off is the window that never applies.
var Off = Window{}

// Parse reads "HH:MM-HH:MM" (spaces around the parts allowed; "off" disables). The two ends must
// differ: a window from a time to itself would be either empty or the whole day.
func Parse(s string) (Window, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return Off, nil
	}
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Off, fmt.Errorf("%q is not a window: want HH:MM-HH:MM (e.g. %s) or off", s, Default)
	}
	start, err := clock(from)
	if err != nil {
		return Off, err
	}
	end, err := clock(to)
	if err != nil {
		return Off, err
	}
	if start == end {
		return Off, fmt.Errorf("%q starts and ends at the same time: use off to disable the window", s)
	}
	return Window{on: true, start: start, end: end}, nil
}

// clock reads "HH:MM" (24-hour, one or two hour digits, two minute digits) as minutes after midnight.
func clock(s string) (int, error) {
	s = strings.TrimSpace(s)
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) < 1 || len(h) > 2 || len(m) != 2 || !digits(h) || !digits(m) {
		return 0, fmt.Errorf("%q is not a time of day: want HH:MM", s)
	}
	hh, _ := strconv.Atoi(h)
	mm, _ := strconv.Atoi(m)
	if hh > 23 || mm > 59 {
		return 0, fmt.Errorf("%q is not a time of day: want 00:00 to 23:59", s)
	}
	return hh*60 + mm, nil
}

func digits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// On reports whether the window applies at all.
func (w Window) On() bool { return w.on }

// String is the window as configured ("20:50-08:00") or "off".
func (w Window) String() string {
	if !w.on {
		return "off"
	}
	return hm(w.start) + "-" + hm(w.end)
}

// EndClock is the end of the window, "08:00" (Seoul time).
func (w Window) EndClock() string { return hm(w.end) }

func hm(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// Until says whether now falls in the window and, if so, when the window ends (the next End on
// Seoul's clock after now).
func (w Window) Until(now time.Time) (time.Time, bool) {
	if !w.on {
		return time.Time{}, false
	}
	k := now.In(Seoul)
	m := k.Hour()*60 + k.Minute()
	var in bool
	if w.start < w.end {
		in = m >= w.start && m < w.end
	} else {
		in = m >= w.start || m < w.end
	}
	if !in {
		return time.Time{}, false
	}
	end := time.Date(k.Year(), k.Month(), k.Day(), w.end/60, w.end%60, 0, 0, Seoul)
	if !end.After(k) {
		end = time.Date(k.Year(), k.Month(), k.Day()+1, w.end/60, w.end%60, 0, 0, Seoul)
	}
	return end, true
}
