package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
)

// getIn and postLang send a page request as a browser set to a language: by Accept-Language,
// or (cookie non-empty) by the lang preference cookie with an English Accept-Language.
func (c *uiClient) getIn(path, accept, cookie string) uiResp {
	c.a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.a.url+path, nil)
	setLang(req, accept, cookie)
	return c.do(req)
}

func (c *uiClient) postLang(path string, form url.Values, accept, cookie string) uiResp {
	c.a.t.Helper()
	if form.Get("_csrf") == "" {
		form.Set("_csrf", c.csrf)
	}
	req, _ := http.NewRequest(http.MethodPost, c.a.url+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	setLang(req, accept, cookie)
	return c.do(req)
}

func setLang(req *http.Request, accept, cookie string) {
	req.Header.Set("Accept-Language", accept)
	if cookie != "" {
		req.Header.Set("Accept-Language", "en-US,en;q=0.9")
		req.AddCookie(&http.Cookie{Name: "lang", Value: cookie})
	}
}

func wantText(t *testing.T, what, got string, want []string, notWant ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("%s: %q does not say %q", what, got, w)
		}
	}
	for _, w := range notWant {
		if strings.Contains(got, w) {
			t.Errorf("%s: %q says %q", what, got, w)
		}
	}
}

// TestI18nFormErrorsInViewersLanguage: the create form's problems are catalogue texts in the
// viewer's language (Accept-Language or the lang cookie) naming the field by its label, never
// by its JSON name, whatever the hostile input.
func TestI18nFormErrorsInViewersLanguage(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	c := a.login("i18n@example.com", model.RoleMarketer)
	long := strings.Repeat("가", 501)
	for _, tc := range []struct {
		name           string
		form           url.Values
		accept, cookie string
		want           []string
		notWant        []string
	}{
		{"empty title ko", url.Values{"title": {"  "}}, "ko-KR,ko;q=0.9,en;q=0.5", "", []string{"제목 항목을 입력하세요."}, []string{"title", "required"}},
		{"empty title cookie", url.Values{"title": {""}}, "", "ko", []string{"제목 항목을 입력하세요."}, []string{"title"}},
		{"empty title en", url.Values{"title": {""}}, "en", "", []string{"Title is required."}, []string{"title is"}},
		{"bad image ko", url.Values{"title": {"x"}, "imageUrl": {"javascript:alert(1)"}}, "ko", "", []string{"이미지 URL 항목은 http:// 또는 https://로 시작하는 웹 주소여야 합니다."}, []string{"imageUrl"}},
		{"bad image en", url.Values{"title": {"x"}, "imageUrl": {"ftp://x"}}, "en", "", []string{"Image URL must be a web address"}, []string{"imageUrl"}},
		{"NUL ko", url.Values{"title": {"a\x00b"}}, "ko", "", []string{"제목 항목에 NUL 문자를 넣을 수 없습니다."}, nil},
		{"line break ko", url.Values{"title": {"x"}, "storeName": {"a\r\nb"}}, "ko", "", []string{"매장명 항목은 제어 문자 없이 한 줄이어야 합니다."}, []string{"storeName"}},
		{"invalid UTF-8 ko", url.Values{"title": {"a\xffb"}}, "ko", "", []string{"제목 항목이 올바른 UTF-8 텍스트가 아닙니다."}, nil},
		{"too long ko", url.Values{"title": {long}}, "ko", "", []string{"제목 항목은 최대 500자까지 입력할 수 있습니다(현재 501자)."}, nil},
		{"all problems at once ko", url.Values{"title": {" "}, "imageUrl": {"nope"}, "storeName": {"a\tb"}}, "ko", "", []string{"매장명 항목은 제어 문자 없이 한 줄이어야 합니다. 제목 항목을 입력하세요. 이미지 URL 항목은"}, nil},
		{"too long en", url.Values{"title": {"x"}, "description": {strings.Repeat("d", 5001)}}, "en", "", []string{"Description must be at most"}, []string{"description must"}},
	} {
		r := c.postLang("/events", tc.form, tc.accept, tc.cookie)
		wantCode(t, tc.name, r, http.StatusBadRequest)
		wantText(t, tc.name, strings.TrimSpace(r.doc(t).Find("#event-form-error").Text()), tc.want, tc.notWant...)
	}
}

// TestI18nErrorPagesAndMessages: 404 and 403 pages, a bad filter, an unknown channel and an empty
// date range speak Korean to a Korean reader.
func TestI18nErrorPagesAndMessages(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	m := a.login("mk@example.com", model.RoleMarketer)
	s := a.login("st@example.com", model.RoleStaff)
	a.event("i18n-ev", "Event", model.ChannelKakao)
	ko := "ko-KR,ko;q=0.9"

	r := m.getIn("/events/no-such-event", ko, "")
	wantCode(t, "unknown event", r, http.StatusNotFound)
	wantText(t, "404 page", r.doc(t).Find("main").Text(), []string{"페이지를 찾을 수 없습니다", "“no-such-event” 이벤트를 찾을 수 없습니다."}, "not found")
	r = m.getIn("/events/no-such-event", "", "en")
	wantText(t, "404 page en", r.doc(t).Find("main").Text(), []string{"Event “no-such-event” was not found."})

	r = m.getIn("/reports", ko, "")
	wantCode(t, "reports as marketer", r, http.StatusForbidden)
	wantText(t, "403 page", r.doc(t).Find("main").Text(), []string{"관리자 권한이 필요합니다."}, "needs the", "manager")

	r = m.getIn("/?status=bogus&channel=TIKTOK", ko, "")
	wantCode(t, "bad filter", r, http.StatusBadRequest)
	wantText(t, "bad filter", r.doc(t).Find("[role=alert]").Text(), []string{"알 수 없는 필터 값은 무시했습니다", "전체 상태", "채널"}, "unknown value")

	r = s.postLang("/events/i18n-ev/channels/TIKTOK/retry", url.Values{}, ko, "")
	wantCode(t, "unknown channel", r, http.StatusBadRequest)
	wantText(t, "unknown channel", r.doc(t).Find("main").Text(), []string{"알 수 없는 채널입니다: “TIKTOK”"}, "unknown channel")

	r = s.getIn("/retries?check=1&from=2025-02-01&to=2025-01-01", ko, "")
	wantCode(t, "empty range", r, http.StatusBadRequest)
	wantText(t, "empty range", r.doc(t).Find("main").Text(), []string{"기간이 비어 있습니다."}, "time range")

	r = m.postLang("/events/i18n-ev/distribution", url.Values{"channels": {"NAVER", "NAVER"}}, ko, "")
	wantText(t, "channel twice", r.doc(t).Find("main").Text(), []string{"네이버 블로그 채널이 두 번 선택되었습니다."}, "listed twice")
}

// TestI18nAPIKeepsEnglish: the JSON API answers with its English messages and stable codes
// whatever language the client's headers ask for, and names the field of invalid input.
func TestI18nAPIKeepsEnglish(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	ko := map[string]string{"Accept-Language": "ko-KR,ko;q=0.9"}
	call := func(role model.Role, method, path string, body any) apiResp {
		return a.req(method, path, a.tokens[role], body, ko)
	}
	// Invalid input names its field by its JSON name, for machines ("field"), besides the message.
	for body, want := range map[string][2]string{
		`{"title": " "}`: {"title", "title is required"},
		`{"title": "x", "imageUrl": "javascript:x"}`: {"imageUrl", "imageUrl must be an http or https URL"},
		`{"title": "x", "storeName": "a\r\nb"}`:      {"storeName", "storeName must be one line without control characters"},
	} {
		e := wantError(t, call(model.RoleMarketer, http.MethodPost, "/api/v1/events", body), 400, model.EINVALID, want[1])["error"].(map[string]any)
		if e["field"] != want[0] || e["message"] != want[1] {
			t.Errorf("%s: error %v, want field %q and message %q exactly", body, e, want[0], want[1])
		}
	}
	// Several problems: the API reports the first, exactly as before.
	e := wantError(t, call(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"title": "", "imageUrl": "nope"}), 400, model.EINVALID)["error"].(map[string]any)
	if e["message"] != "title is required" || e["field"] != "title" {
		t.Errorf("two problems: error %v, want the title's alone", e)
	}
	if e := wantError(t, call(model.RoleMarketer, http.MethodGet, "/api/v1/events/nope", nil), 404, model.ENOTFOUND)["error"].(map[string]any); e["field"] != nil {
		t.Errorf("a not-found error names a field: %v", e)
	}
	wantError(t, call(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"title": "a\x00b"}), 400, model.EINVALID, "title must not contain NUL characters")
	wantError(t, call(model.RoleMarketer, http.MethodGet, "/api/v1/events/nope", nil), 404, model.ENOTFOUND, "event nope not found")
	wantError(t, call(model.RoleMarketer, http.MethodPost, "/api/v1/retries/preview", map[string]any{}), 403, model.EFORBIDDEN, "this needs the staff role")
	wantError(t, call(model.RoleStaff, http.MethodPost, "/api/v1/retries/preview", map[string]any{"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"}), 400, model.EINVALID, "the time range is empty: from must be before to")
	id := a.event("api-i18n")
	wantError(t, call(model.RoleMarketer, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string]any{"channels": []string{"TIKTOK"}}), 400, model.EINVALID, `unknown channel "TIKTOK"`)
}

// TestI18nManagerPagesKorean: the users and tokens pages show their refusals in Korean.
func TestI18nManagerPagesKorean(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	boss := a.login("boss-ko@example.com", model.RoleManager)
	ko := "ko"
	for _, tc := range []struct {
		what, path string
		form       url.Values
		want       string
	}{
		{"short password", "/users", url.Values{"email": {"kim@example.com"}, "role": {"staff"}, "password": {"짧음"}}, "비밀번호 항목은 8자 이상이어야 합니다."},
		{"bad email", "/users", url.Values{"email": {"kim"}, "role": {"staff"}, "password": {"password1"}}, "이메일 항목은 name@example.com 형식이어야 합니다(최대 254자)."},
		{"bad role", "/users", url.Values{"email": {"kim@example.com"}, "role": {"root"}, "password": {"password1"}}, "알 수 없는 역할입니다: “root”. 마케터, 운영 담당자, 관리자 중에서 고르세요."},
		{"self disable", "/users/" + a.userID("boss-ko@example.com") + "/disable", url.Values{}, "본인 계정은 비활성화할 수 없습니다."},
		{"bad expiry", "/tokens", url.Values{"name": {"bot"}, "role": {"staff"}, "expires": {"tomorrow"}}, "만료는 720h, 30d 같은 기간이나 YYYY-MM-DD 날짜여야 하며 최대 10년 후까지입니다."},
		{"token name", "/tokens", url.Values{"name": {"a\nb"}, "role": {"staff"}}, "이름 항목은 제어 문자 없이 한 줄이어야 합니다."},
	} {
		r := boss.postLang(tc.path, tc.form, ko, "")
		if got := formError(t, r); got != tc.want {
			t.Errorf("%s: %d %q, want %q", tc.what, r.status, got, tc.want)
		}
	}
}
