// Package views holds the templ components of the dashboard and their props. Components take
// model types or props structs only: no I/O, no globals, no configuration. Text goes through the
// ko/en catalogue in this file.
package views

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"

	"github.com/marketing-platform/distribution/model"
)

// Languages the UI speaks.
const (
	LangEN = "en"
	LangKO = "ko"
)

// messages maps a key to its English and Korean text.
var messages = map[string][2]string{
	"app.name":          {"Distribution", "배포 관리"},
	"skip":              {"Skip to content", "본문으로 건너뛰기"},
	"nav.label":         {"Main", "주 메뉴"},
	"nav.events":        {"Events", "이벤트"},
	"nav.reports":       {"Reports", "리포트"},
	"user.signed_in_as": {"Signed in as", "로그인 사용자"},
	"logout":            {"Log out", "로그아웃"},
	"lang.label":        {"Language", "언어"},
	"lang.en":           {"English", "English"},
	"lang.ko":           {"한국어", "한국어"},
	"role.marketer":     {"Marketer", "마케터"},
	"role.staff":        {"Staff", "운영 담당자"},
	"role.manager":      {"Manager", "관리자"},
	"notifications":     {"Notifications", "알림"},

	"login.title":     {"Log in", "로그인"},
	"login.heading":   {"Log in to Distribution", "배포 관리 로그인"},
	"login.email":     {"Email", "이메일"},
	"login.password":  {"Password", "비밀번호"},
	"login.submit":    {"Log in", "로그인"},
	"login.failed":    {"Email or password is incorrect.", "이메일 또는 비밀번호가 올바르지 않습니다."},
	"login.throttled": {"Too many failed attempts. Try again in 15 minutes.", "로그인 실패가 너무 많습니다. 15분 후에 다시 시도하세요."},

	"events.title": {"Events", "이벤트"},
	"events.empty": {"No events yet.", "아직 이벤트가 없습니다."},

	"error.title": {"Error", "오류"},
	"error.back":  {"Back to events", "이벤트 목록으로"},
	"error.400":   {"The request is not valid", "잘못된 요청입니다"},
	"error.401":   {"Please log in", "로그인이 필요합니다"},
	"error.403":   {"You do not have access to this", "접근 권한이 없습니다"},
	"error.404":   {"Page not found", "페이지를 찾을 수 없습니다"},
	"error.405":   {"Method not allowed", "허용되지 않는 요청 방식입니다"},
	"error.409":   {"Conflict", "요청이 현재 상태와 충돌합니다"},
	"error.413":   {"The request is too large", "요청이 너무 큽니다"},
	"error.429":   {"Too many requests", "요청이 너무 많습니다"},
	"error.500":   {"Something went wrong", "문제가 발생했습니다"},
	"error.503":   {"Service unavailable", "서비스를 사용할 수 없습니다"},
}

// T returns the text of key in lang (English unless lang is "ko"); an unknown key returns itself,
// so a missing translation is visible rather than blank.
func T(lang, key string) string {
	m, ok := messages[key]
	if !ok {
		return key
	}
	if lang == LangKO {
		return m[1]
	}
	return m[0]
}

// Keys lists every catalogue key (tests check each has both languages).
func Keys() []string {
	keys := make([]string, 0, len(messages))
	for k := range messages {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ParseLang returns lang if the UI speaks it, else "".
func ParseLang(lang string) string {
	switch strings.ToLower(strings.TrimSpace(lang)) {
	case LangKO:
		return LangKO
	case LangEN:
		return LangEN
	}
	return ""
}

// ResolveLang picks the UI language: the preference cookie when valid, else the Accept-Language
// entry with the highest q among Korean and English, else English.
func ResolveLang(cookie, acceptLanguage string) string {
	if l := ParseLang(cookie); l != "" {
		return l
	}
	best, bestQ := LangEN, -1.0
	for _, part := range strings.Split(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(strings.TrimSpace(tag)), "-")
		l := ParseLang(primary)
		if l == "" {
			continue
		}
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				continue
			}
			q = f
		}
		if q > 0 && q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// Page is what every full page needs besides its own data.
type Page struct {
	Lang      string
	Title     string           // already translated
	Principal *model.Principal // nil when anonymous
	CSRF      string           // token for forms (hidden _csrf input) and the _csrf signal
	Path      string           // the current local URL, where the language switch returns to
}

// T translates key in the page's language.
func (p Page) T(key string) string { return T(p.Lang, key) }

// RoleName is the display name of a role.
func (p Page) RoleName(r model.Role) string { return p.T("role." + string(r)) }

// CanManage reports whether the viewer sees manager-only navigation.
func (p Page) CanManage() bool { return p.Principal != nil && p.Principal.Role.CanManage() }

// LoginForm is the state of the login form when it is (re)rendered.
type LoginForm struct {
	Email string
	Next  string
	Error string // already translated; "" for none
}

// ErrorInfo describes an error page.
type ErrorInfo struct {
	Status  int
	Message string // user-safe detail, may be ""
}

// Heading returns the translated title of an error status.
func (e ErrorInfo) Heading(lang string) string {
	key := "error." + strconv.Itoa(e.Status)
	if _, ok := messages[key]; ok {
		return T(lang, key)
	}
	if e.Status >= 500 {
		return T(lang, "error.500")
	}
	return T(lang, "error.400")
}

// csrfSignals is the body's data-signals value: the CSRF token as the local signal $_csrf, which
// Datastar actions send as a header: @post(url, {headers: {'X-CSRF-Token': $_csrf}}).
// The token is server-generated (alphanumeric), never user text.
func csrfSignals(token string) string {
	b, err := json.Marshal(map[string]string{"_csrf": token})
	if err != nil {
		return "{}"
	}
	return string(b)
}

func ariaBool(b bool) string { return strconv.FormatBool(b) }

// StatusText is the numeric status as text (a DOM hook for tests).
func (e ErrorInfo) StatusText() string { return strconv.Itoa(e.Status) }
