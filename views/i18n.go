// Package views holds the templ components of the dashboard and their props. Components take
// model types or props structs only: no I/O, no globals, no configuration. Text goes through the
// ko/en catalogue in this file.
package views

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/quiethours"
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

	"nav.retries": {"Bulk retry", "일괄 재시도"},

	"status.PENDING":          {"Pending", "대기"},
	"status.IN_PROGRESS":      {"In progress", "진행 중"},
	"status.SUCCESS":          {"Success", "성공"},
	"status.FAILED":           {"Failed", "실패"},
	"overall.NONE":            {"Not started", "시작 전"},
	"overall.IN_PROGRESS":     {"In progress", "진행 중"},
	"overall.COMPLETED":       {"Completed", "완료"},
	"overall.FAILED":          {"Failed", "실패"},
	"overall.PARTIAL_SUCCESS": {"Partial success", "부분 성공"},

	"live.connected":    {"Live", "실시간"},
	"live.reconnecting": {"Reconnecting…", "재연결 중…"},
	"live.offline":      {"Offline: reload the page", "연결 끊김: 페이지를 새로 고치세요"},

	"events.empty_filtered":        {"No events match these filters.", "조건에 맞는 이벤트가 없습니다."},
	"events.search":                {"Search", "검색"},
	"events.search_hint":           {"Event id, title, distribution, post or message id", "이벤트 ID, 제목, 배포·게시물·메시지 ID"},
	"events.filter.status":         {"Overall status", "전체 상태"},
	"events.filter.channel":        {"Channel", "채널"},
	"events.filter.channel_status": {"Channel status", "채널 상태"},
	"events.filter.any":            {"Any", "전체"},
	"events.filter.apply":          {"Apply", "적용"},
	"events.filter.reset":          {"Reset", "초기화"},
	"events.col.event":             {"Event", "이벤트"},
	"events.col.status":            {"Status", "상태"},
	"events.col.channels":          {"Channels", "채널"},
	"events.col.created":           {"Created", "생성"},
	"events.pagination":            {"Pages", "페이지"},
	"events.first":                 {"← First page", "← 첫 페이지"},
	"events.next":                  {"Next page →", "다음 페이지 →"},
	"events.start":                 {"Start distribution", "배포 시작"},
	"events.counts_label":          {"Events by status", "상태별 이벤트"},
	"events.count.all":             {"All", "전체"},
	"event.new":                    {"New event", "새 이벤트"},
	"event.create":                 {"Create event", "이벤트 만들기"},
	"event.field.title":            {"Title", "제목"},
	"event.field.description":      {"Description", "설명"},
	"event.field.store":            {"Store name", "매장명"},
	"event.field.image":            {"Image URL", "이미지 URL"},
	"detail.breadcrumb":            {"Breadcrumb", "현재 위치"},
	"detail.back":                  {"All events", "전체 이벤트"},
	"detail.id":                    {"Event id", "이벤트 ID"},
	"detail.overall":               {"Overall status", "전체 상태"},
	"detail.started":               {"Started", "시작"},
	"detail.completed":             {"Completed", "완료"},
	"detail.channels":              {"Channels", "채널"},
	"detail.attempts":              {"Attempt history", "시도 이력"},
	"detail.no_attempts":           {"No attempts yet.", "아직 시도가 없습니다."},
	"detail.retry_failed":          {"Retry all failed", "실패한 채널 모두 재시도"},
	"detail.start_heading":         {"Start distribution", "배포 시작"},
	"detail.not_started":           {"This event has not been distributed yet.", "이 이벤트는 아직 배포되지 않았습니다."},
	"detail.start_channels":        {"Channels to publish to", "게시할 채널"},
	"detail.start_submit":          {"Start distribution", "배포 시작"},
	"card.retries":                 {"Manual retries", "수동 재시도"},
	"card.last_retry":              {"Last retry", "마지막 재시도"},
	"card.finished":                {"Finished", "종료"},
	"card.updated":                 {"Updated", "갱신"},
	"card.retry":                   {"Retry", "재시도"},
	"card.error_failed":            {"Publishing to this channel failed. Staff can retry it.", "이 채널에 게시하지 못했습니다. 운영 담당자가 재시도할 수 있습니다."},
	"card.error_retrying":          {"The last attempt failed; it is being retried automatically.", "마지막 시도가 실패하여 자동으로 재시도하고 있습니다."},
	"card.error_detail":            {"Technical details", "기술 정보"},
	"card.views":                   {"Estimated views", "예상 노출 수"},
	"card.distribution_id":         {"Distribution id", "배포 ID"},
	"card.post_id":                 {"Post id", "게시물 ID"},
	"card.post":                    {"Post", "게시물"},
	"card.open_post":               {"Open the post", "게시물 열기"},
	"card.message_id":              {"Message id", "메시지 ID"},
	"card.schedule":                {"Impression schedule", "노출 일정"},
	"card.slot":                    {"Slot", "시간대"},
	"card.slot_start":              {"From", "시작"},
	"card.slot_end":                {"Until", "종료"},
	"card.spots":                   {"Spots", "횟수"},
	"slot.morning":                 {"Morning", "아침"},
	"slot.daytime":                 {"Daytime", "낮"},
	"slot.prime":                   {"Prime time", "황금 시간대"},
	"slot.late":                    {"Late night", "심야"},
	"att.channel":                  {"Channel", "채널"},
	"att.attempt":                  {"Attempt", "시도"},
	"att.trigger":                  {"Triggered by", "실행 주체"},
	"att.started":                  {"Started", "시작"},
	"att.finished":                 {"Finished", "종료"},
	"att.outcome":                  {"Outcome", "결과"},
	"att.error":                    {"Error", "오류"},
	"outcome.running":              {"Running", "실행 중"},
	"outcome.success":              {"Success", "성공"},
	"outcome.failed":               {"Failed", "실패"},
	"outcome.retry":                {"Failed, retrying", "실패, 재시도 예정"},
	"outcome.snoozed":              {"Rate limited, waiting", "요청 제한, 대기"},
	"outcome.lost":                 {"Worker lost", "작업자 유실"},
	"flash.created":                {"Event created.", "이벤트를 만들었습니다."},
	"flash.started":                {"Distribution started.", "배포를 시작했습니다."},
	"flash.retried":                {"Retrying %s.", "%s 재시도를 시작했습니다."},
	"flash.retried_failed":         {"Retrying %d failed channels.", "실패한 채널 %d개를 재시도합니다."},
	"flash.bulk":                   {"Retrying %d failed channels.", "실패한 채널 %d개를 재시도합니다."},
	"action.already_started":       {"This event's distribution has already started.", "이 이벤트의 배포는 이미 시작되었습니다."},
	"action.not_failed":            {"%s is %s: only failed channels can be retried.", "%s 채널은 %s 상태입니다. 실패한 채널만 재시도할 수 있습니다."},
	"action.no_failed":             {"There are no failed channels to retry.", "재시도할 실패 채널이 없습니다."},
	"action.no_distribution":       {"This event has no distribution yet.", "이 이벤트에는 아직 배포가 없습니다."},
	"action.no_channels":           {"Choose at least one channel.", "채널을 하나 이상 선택하세요."},
	"action.schedule_when":         {"Enter the date and time to start at.", "시작할 날짜와 시간을 입력하세요."},
	"action.schedule_past":         {"That time has passed: choose a later one.", "이미 지난 시간입니다. 더 늦은 시간을 선택하세요."},
	"action.schedule_far":          {"Schedules can be at most 90 days ahead.", "예약은 최대 90일 후까지 가능합니다."},
	"action.no_schedule":           {"This event has no scheduled start (it may have just started).", "이 이벤트에는 예약된 시작이 없습니다(방금 시작되었을 수 있습니다)."},
	"flash.scheduled":              {"Distribution scheduled.", "배포를 예약했습니다."},
	"flash.unscheduled":            {"Schedule removed.", "예약을 취소했습니다."},
	"schedule.chip":                {"Scheduled for", "예약:"},
	"schedule.heading":             {"Scheduled start", "예약된 시작"},
	"schedule.channels":            {"Channels", "채널"},
	"schedule.by":                  {"Scheduled by", "예약한 사람"},
	"schedule.unschedule":          {"Unschedule", "예약 취소"},
	"schedule.when":                {"When", "시작 시점"},
	"schedule.now":                 {"Now", "지금"},
	"schedule.at":                  {"At", "예약"},
	"schedule.at_label":            {"Start date and time", "시작 날짜와 시간"},
	"action.request_failed":        {"That did not work: the request was refused or the server did not answer. Reload the page and try again.", "요청이 거부되었거나 서버가 응답하지 않았습니다. 페이지를 새로 고친 뒤 다시 시도하세요."},
	"retries.title":                {"Bulk retry", "일괄 재시도"},
	"retries.intro":                {"Retry every failed channel that matches a filter, e.g. every failed KakaoTalk Channel after a token outage. Check the count first; nothing is retried until you confirm.", "조건에 맞는 실패 채널을 한 번에 재시도합니다(예: 토큰 장애 이후 실패한 카카오톡 채널 전체). 먼저 개수를 확인하세요. 확인하기 전에는 아무것도 재시도하지 않습니다."},
	"retries.channel":              {"Channel", "채널"},
	"retries.any_channel":          {"All channels", "모든 채널"},
	"retries.from":                 {"Failed on or after", "실패 시작일"},
	"retries.to":                   {"Failed on or before", "실패 종료일"},
	"retries.zone":                 {"Dates are in", "날짜 기준 시간대:"},
	"retries.preview":              {"Count matching channels", "대상 개수 확인"},
	"retries.none":                 {"No failed channel matches this filter.", "조건에 맞는 실패 채널이 없습니다."},
	"retries.count":                {"%d failed channels match this filter.", "조건에 맞는 실패 채널이 %d개 있습니다."},
	"retries.limit":                {"One confirmation retries at most %d channels; confirm again for the rest.", "한 번에 최대 %d개까지 재시도합니다. 나머지는 다시 확인하세요."},
	"retries.confirm":              {"Retry %d channels", "채널 %d개 재시도"},
	"retries.bad_date":             {"Dates must look like 2025-01-31.", "날짜는 2025-01-31 형식이어야 합니다."},

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

	// Cancel (issue 13.3).
	"status.CANCELLED":         {"Cancelled", "취소됨"},
	"outcome.cancelled":        {"Cancelled", "취소됨"},
	"card.cancel":              {"Cancel", "취소"},
	"card.cancelled":           {"This channel was cancelled. It can be retried like a failed channel.", "이 채널은 취소되었습니다. 실패한 채널처럼 재시도할 수 있습니다."},
	"detail.cancel":            {"Cancel distribution", "배포 취소"},
	"cancel.confirm_channel":   {"Cancel publishing to %s?", "%s 채널 게시를 취소할까요?"},
	"cancel.confirm_all":       {"Cancel every channel that has not finished?", "아직 끝나지 않은 모든 채널을 취소할까요?"},
	"cancel.confirm_note":      {"A post that is already published stays published. Cancelled channels can be retried later.", "이미 게시된 게시물은 그대로 남습니다. 취소한 채널은 나중에 재시도할 수 있습니다."},
	"cancel.confirm_yes":       {"Yes, cancel", "예, 취소합니다"},
	"cancel.confirm_no":        {"Keep going", "계속 진행"},
	"flash.cancelled":          {"Cancelled %s.", "%s 채널을 취소했습니다."},
	"flash.cancelled_all":      {"Distribution cancelled.", "배포를 취소했습니다."},
	"action.not_cancellable":   {"%s is %s: only pending or in-progress channels can be cancelled.", "%s 채널은 %s 상태입니다. 대기 중이거나 진행 중인 채널만 취소할 수 있습니다."},
	"action.nothing_to_cancel": {"Nothing is left to cancel: every channel has finished.", "취소할 채널이 없습니다. 모든 채널이 끝났습니다."},
}

// catalogues are the key → {English, Korean} maps T consults, in order. A part of the UI with
// many texts of its own keeps them in its own file and lists its map here (one line); a key
// appears in one catalogue only (TestCatalogueKeysAreUnique).
var catalogues = []map[string][2]string{
	messages,
	managerMessages,   // i18n_manager.go
	i18nMessages,      // i18n_i18n.go
	waitingMessages,   // waiting.go
	excelMessages,     // i18n_excel.go
	mobileMessages,    // i18n_mobile.go
	listMessages,      // i18n_list.go
	eventEditMessages, // i18n_events.go
	tokenCopyMessages, // i18n_events.go
	bulkPickMessages,  // i18n_events.go
	quietMessages,     // i18n_quiet.go
	instagramMessages, // i18n_instagram.go
	naverMessages,     // i18n_naver.go
	preflightMessages, // i18n_preflight.go
	storesMessages,    // i18n_stores.go
	viewsMessages,     // i18n_views.go
}

// lookup finds key in the catalogues.
func lookup(key string) ([2]string, bool) {
	for _, c := range catalogues {
		if m, ok := c[key]; ok {
			return m, true
		}
	}
	return [2]string{}, false
}

// T returns the text of key in lang (English unless lang is "ko"); an unknown key returns itself,
// so a missing translation is visible rather than blank.
func T(lang, key string) string {
	m, ok := lookup(key)
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
	var keys []string
	for _, c := range catalogues {
		for k := range c {
			keys = append(keys, k)
		}
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

// Page is what every full page needs besides its own data.
type Page struct {
	Lang      string
	Title     string           // already translated
	Principal *model.Principal // nil when anonymous, and in fragments shared between viewers
	// MayRetry shows retry actions on a page without a Principal: a live feed renders one view's
	// fragments once for every viewer who may retry, and carries nobody's identity.
	MayRetry bool
	// MayManage is MayRetry for managers' links (a card's link to the store to reconnect).
	MayManage bool
	CSRF      string // token for forms (hidden _csrf input) and the _csrf signal
	Path      string // the current local URL, where the language switch returns to
	// Now is the render time, for flags that depend on it (a channel stuck for too long); zero
	// shows none.
	Now time.Time
	// Zone is the viewer's time zone (nil: Asia/Seoul); templates read it from the render context
	// (WithZone), so live feeds keep it here to render with.
	Zone *time.Location
	// KakaoQuiet is KakaoTalk's quiet hours (KAKAO_QUIET_HOURS): in force at Now (the render time;
	// zero: the clock), the detail page's pre-flight notes say when KakaoTalk will be sent.
	KakaoQuiet quiethours.Window
	// Preflight checks an event's channels before a start (the engine's pre-flight check): the
	// start form disables the channels it refuses, with the reason. nil checks nothing.
	Preflight func(ctx context.Context, eventID string) map[model.Channel]model.ChannelCheck
	// Stores are the choices of the event edit form's store select (nil: no select).
	Stores []model.Store
}

// Loc is the page's time zone (Zone, or the default).
func (p Page) Loc() *time.Location { return ZoneOf(WithZone(context.Background(), p.Zone)) }

// T translates key in the page's language.
func (p Page) T(key string) string { return T(p.Lang, key) }

// Tn translates key for the count n in the page's language.
func (p Page) Tn(key string, n int) string { return Tn(p.Lang, key, n) }

// RoleName is the display name of a role.
func (p Page) RoleName(r model.Role) string { return p.T("role." + string(r)) }

// CanManage reports whether the viewer sees manager-only navigation.
func (p Page) CanManage() bool {
	return p.MayManage || p.Principal != nil && p.Principal.Role.CanManage()
}

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
