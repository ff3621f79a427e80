package views_test

import (
	"bytes"
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// countNoun finds an English count text whose noun after the count is plural ("%d events",
// "%d failed channels", "%d manual retries"): such a text needs its singular form registered.
var countNoun = regexp.MustCompile(`%d (?:[a-z]+ )?[a-z]+s\b`)

// TestCountTextsPlural: every count text (English holds one %d and nothing else to fill) renders for 1 and 2 in both
// languages with the number and nothing left unformatted, and an English text whose noun is
// plural reads singular for 1 ("1 event", "2 events").
func TestCountTextsPlural(t *testing.T) {
	t.Parallel()
	n := 0
	for _, key := range views.Keys() {
		en := views.T("en", key)
		if !strings.Contains(en, "%d") || strings.Count(en, "%")-2*strings.Count(en, "%%") != 1 {
			continue // not a count text (no count, or more arguments than the count)
		}
		n++
		for _, lang := range []string{"en", "ko"} {
			for _, c := range []int{1, 2} {
				got := views.Tn(lang, key, c)
				if strings.Contains(got, "%") && !strings.Contains(views.T(lang, key), "%%") || !strings.Contains(got, fmt.Sprint(c)) {
					t.Errorf("Tn(%s, %q, %d) = %q", lang, key, c, got)
				}
			}
		}
		one, two := views.Tn("en", key, 1), views.Tn("en", key, 2)
		if countNoun.MatchString(en) && strings.Replace(two, "2", "1", 1) == one {
			t.Errorf("%q: English for 1 is %q, the same as for many: register its singular form", key, one)
		}
	}
	if n < 10 {
		t.Fatalf("only %d count texts found", n)
	}
	for _, tc := range []struct {
		lang, key string
		n         int
		want      string
	}{
		{"en", "reports.events_n", 1, "1 event"},
		{"en", "reports.events_n", 2, "2 events"},
		{"en", "reports.events_n", 1234, "1,234 events"},
		{"ko", "reports.events_n", 1234, "이벤트 1,234개"},
		{"en", "flash.retried_failed", 1, "Retrying 1 failed channel."},
		{"en", "flash.retried_failed", 3, "Retrying 3 failed channels."},
		{"ko", "flash.retried_failed", 1, "실패한 채널 1개를 재시도합니다."},
		{"en", "reports.slots_n", 1, "1 slot"},
		{"en", "reports.retries_n", 1, "1 manual retry"},
		{"en", "retries.confirm", 1000, "Retry 1,000 channels"},
		{"en", "events.title", 3, "Events"}, // no count in the text: as T gives it
		{"en", "no.such.key", 3, "no.such.key"},
	} {
		if got := views.Tn(tc.lang, tc.key, tc.n); got != tc.want {
			t.Errorf("Tn(%s, %s, %d) = %q, want %q", tc.lang, tc.key, tc.n, got, tc.want)
		}
	}
	if got := views.FormatInt("ko", -1234567); got != "-1,234,567" {
		t.Errorf("FormatInt = %q", got)
	}
}

// TestResolveLangMatching: regional and differently cased tags, and a malformed entry among good
// ones, still find the language.
func TestResolveLangMatching(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ accept, want string }{
		{"ko-Kore-KR", "ko"},
		{"en-GB,ko;q=0.9", "en"},
		{"zh-CN,ko-KR;q=0.8,en;q=0.7", "ko"},
		{"ko;q=bogus, ko-KR;q=0.4, en;q=0.2", "ko"},
		{"*", "en"},
		{strings.Repeat("x", 5000), "en"},
		{"\x00ko", "en"},
	} {
		if got := views.ResolveLang("", tc.accept); got != tc.want {
			t.Errorf("ResolveLang(%.40q) = %q, want %q", tc.accept, got, tc.want)
		}
	}
}

// TestTriggerText: the attempt history names people and what they did, not trigger codes.
func TestTriggerText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ trigger, en, ko string }{
		{"system", "Automatic", "자동"},
		{"auto-retry", "Automatic retry", "자동 재시도"},
		{"rescue", "Automatic recovery", "자동 복구"},
		{"retry:kim@example.com", "kim@example.com", "kim@example.com"},
		{"start:kim@example.com", "kim@example.com", "kim@example.com"},
		{"bulk-retry:lee@example.com", "lee@example.com · bulk retry", "lee@example.com · 일괄 재시도"},
		{"schedule:park@example.com", "park@example.com · scheduled", "park@example.com · 예약"},
		{"cancel:park@example.com", "park@example.com · cancel", "park@example.com · 취소"},
		{"retry:token:event-service", "event-service (API token)", "event-service (API 토큰)"},
		{"something-new", "something-new", "something-new"},
	} {
		if got := views.TriggerText("en", tc.trigger); got != tc.en {
			t.Errorf("en %q = %q, want %q", tc.trigger, got, tc.en)
		}
		if got := views.TriggerText("ko", tc.trigger); got != tc.ko {
			t.Errorf("ko %q = %q, want %q", tc.trigger, got, tc.ko)
		}
	}
}

// TestErrorText: an application error is shown from the catalogue with its field's label and
// its arguments' display names; unkeyed and internal errors never show English to Korean readers.
func TestErrorText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err      error
		lang     string
		want     string
		contains bool
	}{
		{model.FieldErrorf("imageUrl", "err.field.url", "%s must be an http or https URL"), "ko", "이미지 URL 항목은 http:// 또는 https://로 시작하는 웹 주소여야 합니다.", false},
		{model.FieldErrorf("title", "err.field.too_long", "%s must be at most %d characters (got %d)", 500, 1234), "en", "Title must be at most 500 characters (it has 1,234).", false},
		{model.Errork(model.EFORBIDDEN, "err.needs_role", "this needs the %s role", model.RoleManager), "ko", "관리자 권한이 필요합니다.", false},
		{model.Errork(model.ECONFLICT, "action.not_failed", "%s is %s", model.ChannelKakao, model.StatusSuccess), "ko", "카카오톡 채널 채널은 성공 상태입니다.", true},
		{model.Errork(model.EINVALID, "reports.long_range", "at most %d days", 1), "en", "A report covers at most 1 day; choose a shorter range.", false},
		{model.Errorf(model.EINVALID, "some english detail"), "ko", "잘못된 요청입니다", false},
		{model.Errorf(model.EINVALID, "some english detail"), "en", "some english detail", false},
		{fmt.Errorf("dial tcp: secret"), "en", "Something went wrong", false},
		{fmt.Errorf("create: %w", &model.AlreadyStartedError{}), "ko", "이 이벤트의 배포는 이미 시작되었습니다.", false},
	} {
		got := views.ErrorText(tc.lang, tc.err)
		if got != tc.want && !(tc.contains && strings.Contains(got, strings.TrimSuffix(tc.want, "."))) {
			t.Errorf("ErrorText(%s, %v) = %q, want %q", tc.lang, tc.err, got, tc.want)
		}
	}
}

// TestAttemptHistoryPeopleAndStatusOnce: the attempt table shows who triggered an attempt in
// words, and an error that already names its HTTP status is not preceded by it again.
func TestAttemptHistoryPeopleAndStatusOnce(t *testing.T) {
	t.Parallel()
	st, errText := 503, "the channel is having problems (HTTP 503: maintenance)"
	st2, errText2 := 400, "the channel rejected the post"
	now := time.Now()
	ev := model.Event{ID: "ev-att", Title: "T", Distribution: &model.Distribution{EventID: "ev-att", OverallStatus: model.OverallFailed, StartedAt: now,
		Channels: []model.ChannelState{{EventID: "ev-att", Channel: model.ChannelKakao, Status: model.StatusFailed, UpdatedAt: now}}}}
	attempts := []model.Attempt{
		{Channel: model.ChannelKakao, Attempt: 1, Trigger: "system", StartedAt: now, Outcome: model.OutcomeRetry, Error: &errText, HTTPStatus: &st},
		{Channel: model.ChannelKakao, Attempt: 2, Trigger: "auto-retry", StartedAt: now, Outcome: model.OutcomeFailed, Error: &errText2, HTTPStatus: &st2},
		{Channel: model.ChannelKakao, Attempt: 3, Trigger: "retry:kim@example.com", StartedAt: now, Outcome: model.OutcomeRunning},
	}
	var buf bytes.Buffer
	if err := views.EventDetail(page("ko", model.RoleStaff), views.DetailView{Event: ev, Attempts: attempts}).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	d := doc(t, buf.String())
	rows := d.Find("tr[data-attempt]")
	if rows.Length() != 3 {
		t.Fatalf("%d attempt rows", rows.Length())
	}
	for i, want := range []string{"자동", "자동 재시도", "kim@example.com"} {
		if got := strings.TrimSpace(rows.Eq(i).Find("[data-trigger]").Text()); got != want {
			t.Errorf("row %d trigger %q, want %q", i, got, want)
		}
	}
	if got := rows.Eq(0).Text(); strings.Count(got, "503") != 1 {
		t.Errorf("row 1 says 503 %d times: %q", strings.Count(got, "503"), got)
	}
	if got := rows.Eq(1).Text(); strings.Count(got, "400") != 1 {
		t.Errorf("row 2 says 400 %d times: %q", strings.Count(got, "400"), got)
	}
	if got := strings.TrimSpace(rows.Eq(0).Find("[data-attempt-error]").Text()); got != "채널에 장애가 있습니다 (HTTP 503: maintenance)" {
		t.Errorf("row 1 error %q", got)
	}
}

// TestAttemptErrorText: the engine's and adapters' phrases read in Korean; the channel's own
// words and the technical detail stay; English is the stored text.
func TestAttemptErrorText(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"failed after 3 attempts: the channel is having problems (HTTP 503)":                              "3회 시도 후 실패: 채널에 장애가 있습니다 (HTTP 503)",
		"attempt 1 of 3 failed: could not reach the channel (connection refused); retrying automatically": "1/3번째 시도 실패: 채널에 연결할 수 없습니다(연결 거부). 자동으로 재시도합니다",
		"the channel rejected the post: 이미지 크기가 너무 작습니다 (HTTP 400)":                                       "채널이 게시를 거부했습니다: 이미지 크기가 너무 작습니다 (HTTP 400)",
		"the channel answered: cancelled: the account is suspended (HTTP 400)":                            "채널 응답: cancelled: the account is suspended (HTTP 400)",
		"cancelled by kim@example.com":    "취소됨(kim@example.com)",
		"interrupted: the worker stopped": "중단됨: 작업자가 멈췄습니다",
		"the channel is rate limiting requests; trying again in 30s (HTTP 429: slow down)": "채널이 요청을 제한하고 있습니다. 30s 후 다시 시도합니다 (HTTP 429: slow down)",
		"something the channel said\x00 <b>":                                               "something the channel said\x00 <b>",
	} {
		if got := views.AttemptErrorText("ko", in); got != want {
			t.Errorf("ko %q = %q, want %q", in, got, want)
		}
		if got := views.AttemptErrorText("en", in); got != in {
			t.Errorf("en %q = %q", in, got)
		}
	}
}
