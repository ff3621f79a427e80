package views

// Counts, numbers and language matching through golang.org/x/text: Tn renders a count text with
// the plural rules and number formatting of the reader's language (English "1 event" / "2
// events", "1,234"), ResolveLang matches Accept-Language against the languages the UI speaks.

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
	"golang.org/x/text/message/catalog"

	"github.com/marketing-platform/distribution/internal/model"
)

// pluralOne is the English text for exactly one of a count text whose English words change with
// the count ("%d events" → "%d event"). Korean has no plural forms, so it needs none. A count text
// that reads the same for one and many needs no entry (TestCountTextsPlural checks the others).
var pluralOne = map[string]string{
	"flash.retried_failed": "Retrying %d failed channel.",
	"flash.bulk":           "Retrying %d failed channel.",
	"retries.count":        "%d failed channel matches this filter.",
	"retries.limit":        "One confirmation retries at most %d channel; confirm again for the rest.",
	"retries.confirm":      "Retry %d channel",
	"reports.events_n":     "%d event",
	"list.total":           "%d event",
	"list.total_more":      "More than %d event",
	"reports.rows_total":   "%d row",
	"xlsx.too_many":        "This report has more than %d row, too many for one Excel file: choose a shorter range or a channel, or download the CSV.",
	"reports.retries_n":    "%d manual retry",
	"reports.slots_n":      "%d slot",
	"reports.spots_n":      "%d spot",
	"reports.long_range":   "A report covers at most %d day; choose a shorter range.",
	"chart.health.desc":    "Share of failed attempts per hour over the last %d hour, oldest on the left; right: the whole window.",
	"stuck.title":          "No change for more than %d minute",
}

// tags are the x/text languages of the UI's languages; supported lists them for matching, the
// first being the default.
var (
	tags      = map[string]language.Tag{LangEN: language.English, LangKO: language.Korean}
	supported = []language.Tag{language.English, language.Korean}
	matcher   = language.NewMatcher(supported)
)

// printers are built once, on first use, from the catalogues (which are complete by then: they
// are package variables): every count text (one holding %d) in both languages, English ones with
// a plural form in pluralOne as a plural selection.
var printers = sync.OnceValue(func() map[string]*message.Printer {
	b := catalog.NewBuilder(catalog.Fallback(language.English))
	for _, c := range catalogues {
		for key, m := range c {
			if !strings.Contains(m[0], "%d") {
				continue
			}
			var en catalog.Message = catalog.String(m[0])
			if one, ok := pluralOne[key]; ok {
				en = plural.Selectf(1, "%d", plural.One, one, plural.Other, m[0])
			}
			// Set fails only for malformed messages, which these are not (TestCountTextsPlural
			// renders every one).
			_ = b.Set(language.English, key, en)
			_ = b.SetString(language.Korean, key, m[1])
		}
	}
	return map[string]*message.Printer{
		LangEN: message.NewPrinter(language.English, message.Catalog(b)),
		LangKO: message.NewPrinter(language.Korean, message.Catalog(b)),
	}
})

func printer(lang string) *message.Printer {
	if p, ok := printers()[lang]; ok {
		return p
	}
	return printers()[LangEN]
}

// Tn is the text of key in lang for the count n: its plural form in lang and n with the
// language's digit grouping ("Retrying 1 failed channel.", "1,234 events"). The text holds one
// %d; a text without one is returned as T gives it, an unknown key as itself.
func Tn(lang, key string, n int) string {
	m, ok := lookup(key)
	if !ok || !strings.Contains(m[0], "%d") {
		return T(lang, key)
	}
	return printer(lang).Sprintf(key, n)
}

// FormatInt formats n with the thousands separator of lang's readers (1234567 → 1,234,567).
func FormatInt(lang string, n int64) string { return printer(lang).Sprintf("%d", n) }

// ResolveLang picks the UI language: the preference cookie when valid, else the best match of
// the Accept-Language header among Korean and English (by its q values), else English.
func ResolveLang(cookie, acceptLanguage string) string {
	if l := ParseLang(cookie); l != "" {
		return l
	}
	desired := acceptTags(acceptLanguage)
	if len(desired) == 0 {
		return LangEN
	}
	_, i, conf := matcher.Match(desired...)
	if conf == language.No || i < 0 || i >= len(supported) {
		return LangEN
	}
	for l, t := range tags {
		if t == supported[i] {
			return l
		}
	}
	return LangEN
}

// acceptTags are the languages of an Accept-Language header, most wanted first. A malformed
// entry (a bad q, a bad tag) is skipped rather than spoiling the whole header.
func acceptTags(header string) []language.Tag {
	if t, _, err := language.ParseAcceptLanguage(header); err == nil {
		return t
	}
	type weighted struct {
		tag language.Tag
		q   float32
	}
	var all []weighted
	for _, part := range strings.Split(header, ",") {
		t, q, err := language.ParseAcceptLanguage(part)
		if err != nil || len(t) != 1 {
			continue
		}
		all = append(all, weighted{t[0], q[0]})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].q > all[j].q })
	out := make([]language.Tag, len(all))
	for i, w := range all {
		out[i] = w.tag
	}
	return out
}

// i18nMessages are the texts of server messages shown in pages (validation, conflicts, error
// pages; model.Error keys) and of the attempt history's "triggered by" column. A field error's
// text gets the field's label first.
var i18nMessages = map[string][2]string{
	"err.already_started":     {"Event %s has started its distribution and can no longer be changed.", "%s 이벤트는 배포를 시작해서 더 이상 바꿀 수 없습니다."},
	"err.field.nul":           {"%s must not contain NUL characters.", "%s 항목에 NUL 문자를 넣을 수 없습니다."},
	"err.field.one_line":      {"%s must be one line without control characters.", "%s 항목은 제어 문자 없이 한 줄이어야 합니다."},
	"err.field.control":       {"%s must not contain control characters.", "%s 항목에 제어 문자를 넣을 수 없습니다."},
	"err.field.utf8":          {"%s is not valid UTF-8 text.", "%s 항목이 올바른 UTF-8 텍스트가 아닙니다."},
	"err.field.too_long":      {"%s must be at most %d characters (it has %d).", "%s 항목은 최대 %d자까지 입력할 수 있습니다(현재 %d자)."},
	"err.field.required":      {"%s is required.", "%s 항목을 입력하세요."},
	"err.field.url":           {"%s must be a web address starting with http:// or https://.", "%s 항목은 http:// 또는 https://로 시작하는 웹 주소여야 합니다."},
	"err.field.event_id":      {"%s must be 1 to 36 letters, digits, '_' or '-'.", "%s 항목은 영문자, 숫자, '_', '-'로 된 1~36자여야 합니다."},
	"err.field.when":          {"%s must be “now” or a start time.", "%s 항목은 ‘지금’ 또는 시작 시간이어야 합니다."},
	"err.unknown_value":       {"Unknown value “%s”.", "알 수 없는 값입니다: “%s”"},
	"err.unknown_channel":     {"Unknown channel “%s”.", "알 수 없는 채널입니다: “%s”"},
	"err.unknown_role":        {"Unknown role “%s”: choose marketer, staff or manager.", "알 수 없는 역할입니다: “%s”. 마케터, 운영 담당자, 관리자 중에서 고르세요."},
	"err.channel_twice":       {"%s is chosen twice.", "%s 채널이 두 번 선택되었습니다."},
	"err.event_id":            {"That is not a valid event id (1 to 36 letters, digits, '_' or '-').", "올바른 이벤트 ID가 아닙니다(영문자, 숫자, '_', '-'로 된 1~36자)."},
	"err.event_not_found":     {"Event “%s” was not found.", "“%s” 이벤트를 찾을 수 없습니다."},
	"err.event_exists":        {"Event “%s” already exists.", "“%s” 이벤트가 이미 있습니다."},
	"err.not_in_distribution": {"%s is not part of this distribution.", "%s 채널은 이 배포에 포함되어 있지 않습니다."},
	"err.not_paused":          {"%s is not paused.", "%s 채널은 일시 중지 상태가 아닙니다."},
	"err.needs_role":          {"This needs the %s role.", "%s 권한이 필요합니다."},
	"err.csrf":                {"The form has expired; reload the page and try again.", "양식이 만료되었습니다. 페이지를 새로 고친 뒤 다시 시도하세요."},
	"err.time_range_empty":    {"The time range is empty: the start must be before the end.", "기간이 비어 있습니다. 시작이 끝보다 앞서야 합니다."},
	"err.unreadable_form":     {"The form could not be read; reload the page and try again.", "양식을 읽을 수 없습니다. 페이지를 새로 고친 뒤 다시 시도하세요."},
	"err.db_unavailable":      {"The database is unavailable; try again in a few seconds.", "데이터베이스에 연결할 수 없습니다. 잠시 후 다시 시도하세요."},
	"err.too_large":           {"The request is too large.", "요청이 너무 큽니다."},
	"field.cursor":            {"Page link", "페이지 링크"},

	"err.field.email":          {"%s must look like name@example.com (at most %d characters).", "%s 항목은 name@example.com 형식이어야 합니다(최대 %d자)."},
	"err.field.password_short": {"%s must be at least %d characters.", "%s 항목은 %d자 이상이어야 합니다."},
	"err.field.password_long":  {"%s must be at most %d bytes.", "%s 항목은 최대 %d바이트입니다."},
	"err.field.token_name":     {"%s must be 1 to 100 characters.", "%s 항목은 1~100자여야 합니다."},
	"err.field.lang":           {"%s must be Korean or English.", "%s 항목은 한국어 또는 English여야 합니다."},
	"err.email_service":        {"Emails starting with “%s” name service accounts; choose another.", "“%s”(으)로 시작하는 이메일은 서비스 계정용입니다. 다른 이메일을 사용하세요."},
	"err.disable_self":         {"You cannot disable your own account.", "본인 계정은 비활성화할 수 없습니다."},
	"err.expiry":               {"The expiry must be a duration such as 720h or 30d, or a date YYYY-MM-DD, at most 10 years ahead.", "만료는 720h, 30d 같은 기간이나 YYYY-MM-DD 날짜여야 하며 최대 10년 후까지입니다."},
	"err.expiry_past":          {"The expiry must lie in the future.", "만료일은 미래여야 합니다."},
	"err.user_not_found":       {"User not found.", "사용자를 찾을 수 없습니다."},
	"err.user_exists":          {"A user with email “%s” already exists.", "“%s” 이메일의 사용자가 이미 있습니다."},
	"err.user_invalid":         {"Invalid user: the email must be 3 to 254 characters and the role marketer, staff or manager.", "올바르지 않은 사용자입니다. 이메일은 3~254자, 역할은 마케터, 운영 담당자, 관리자 중 하나여야 합니다."},
	"err.service_account":      {"%s is a service account: it has no password and never logs in.", "%s 계정은 서비스 계정입니다. 비밀번호가 없으며 로그인하지 않습니다."},
	"err.last_manager":         {"%s is the last enabled manager; make someone else a manager first.", "%s 계정은 마지막 활성 관리자입니다. 먼저 다른 사람을 관리자로 지정하세요."},
	"err.token_not_found":      {"Token not found.", "토큰을 찾을 수 없습니다."},
	"err.token_invalid":        {"Invalid token: the name must be 1 to 100 characters and the role marketer, staff or manager.", "올바르지 않은 토큰입니다. 이름은 1~100자, 역할은 마케터, 운영 담당자, 관리자 중 하나여야 합니다."},
	"err.token_owner_person":   {"%s is a person's account, not a service account; choose another token name.", "%s 계정은 서비스 계정이 아닌 개인 계정입니다. 다른 토큰 이름을 선택하세요."},
	"err.token_owner_disabled": {"%s is disabled: enable it on the users page before giving it a token.", "%s 계정은 비활성 상태입니다. 토큰을 주기 전에 사용자 페이지에서 활성화하세요."},
	"err.token_owner_role":     {"%s has the %s role, below the token's role %s: change its role on the users page first.", "%s 계정의 역할(%s)이 토큰의 역할(%s)보다 낮습니다. 먼저 사용자 페이지에서 역할을 변경하세요."},
	"err.filter_long":          {"The filter text is too long.", "필터 텍스트가 너무 깁니다."},

	"atterr.failed_after":      {"failed after %s attempts: ", "%s회 시도 후 실패: "},
	"atterr.attempt_of":        {"attempt %s of %s failed: %s; retrying automatically", "%s/%s번째 시도 실패: %s. 자동으로 재시도합니다"},
	"atterr.cancelled_by":      {"cancelled by %s", "취소됨(%s)"},
	"atterr.cancelled":         {"cancelled", "취소됨"},
	"atterr.interrupted":       {"interrupted: the worker stopped", "중단됨: 작업자가 멈췄습니다"},
	"atterr.worker_lost_n":     {"worker lost: the work on this channel was interrupted %s times; retry it when the service is stable", "작업자 유실: 이 채널의 작업이 %s번 중단되었습니다. 서비스가 안정되면 재시도하세요"},
	"atterr.worker_lost":       {"worker lost", "작업자 유실"},
	"atterr.answered":          {"the channel answered: ", "채널 응답: "},
	"atterr.rate_limited":      {"the channel is rate limiting requests; trying again in %s", "채널이 요청을 제한하고 있습니다. %s 후 다시 시도합니다"},
	"atterr.problems":          {"the channel is having problems", "채널에 장애가 있습니다"},
	"atterr.rejected":          {"the channel rejected the post", "채널이 게시를 거부했습니다"},
	"atterr.could_not_publish": {"the channel could not publish the post", "채널이 게시하지 못했습니다"},
	"atterr.timeout":           {"the channel did not answer in time", "채널이 제시간에 응답하지 않았습니다"},
	"atterr.unexpected":        {"the channel gave an unexpected answer", "채널이 예상하지 못한 응답을 보냈습니다"},
	"atterr.redirect":          {"the channel endpoint redirected; redirects are not followed", "채널 주소가 다른 곳으로 안내했습니다. 리디렉션은 따르지 않습니다"},
	"atterr.private":           {"the channel endpoint points to a private or local network address, which is not allowed", "채널 주소가 사설 또는 로컬 네트워크를 가리킵니다. 허용되지 않습니다"},
	"atterr.conn_interrupted":  {"the connection to the channel was interrupted", "채널과의 연결이 끊겼습니다"},
	"atterr.refused":           {"could not reach the channel (connection refused)", "채널에 연결할 수 없습니다(연결 거부)"},
	"atterr.no_name":           {"could not reach the channel (name not found)", "채널에 연결할 수 없습니다(주소를 찾을 수 없음)"},
	"atterr.unreachable":       {"could not reach the channel", "채널에 연결할 수 없습니다"},
	"atterr.unreadable":        {"the channel sent an unreadable answer", "채널이 읽을 수 없는 응답을 보냈습니다"},
	"atterr.lost_track":        {"the channel lost track of the publication", "채널이 게시 작업을 찾지 못했습니다"},
	"atterr.pub_interrupted":   {"the publication was interrupted", "게시가 중단되었습니다"},
	"atterr.pub_timeout":       {"the channel did not finish the publication in time", "채널이 제시간에 게시를 마치지 못했습니다"},
	"atterr.misconfigured":     {"the channel endpoint is misconfigured", "채널 주소 설정이 잘못되었습니다"},
	"atterr.too_large":         {"the channel's response was too large", "채널의 응답이 너무 큽니다"},
	"atterr.incomplete":        {"the channel returned an incomplete result", "채널이 불완전한 결과를 돌려주었습니다"},
	"atterr.invalid_result":    {"the channel returned an invalid result", "채널이 올바르지 않은 결과를 돌려주었습니다"},
	"atterr.unsupported":       {"the channel is not supported", "지원하지 않는 채널입니다"},
	"atterr.job_cancelled":     {"the job was cancelled by an operator", "운영자가 작업을 취소했습니다"},
	"atterr.unexpected_error":  {"unexpected error while publishing", "게시 중 예상하지 못한 오류가 발생했습니다"},
	"atterr.failed":            {"the channel failed", "채널 작업이 실패했습니다"},

	"trigger.system":     {"Automatic", "자동"},
	"trigger.auto-retry": {"Automatic retry", "자동 재시도"},
	"trigger.rescue":     {"Automatic recovery", "자동 복구"},
	"trigger.retry":      {"retry", "재시도"},
	"trigger.bulk-retry": {"bulk retry", "일괄 재시도"},
	"trigger.schedule":   {"scheduled", "예약"},
	"trigger.cancel":     {"cancel", "취소"},
	"trigger.start":      {"start", "시작"},
	"trigger.token":      {"API token", "API 토큰"},
}

// fieldLabels are the catalogue keys of the labels of inputs (by JSON or form name) that errors
// name; an input without one is named as it is.
var fieldLabels = map[string]string{
	"id":             "detail.id",
	"title":          "event.field.title",
	"description":    "event.field.description",
	"imageUrl":       "event.field.image",
	"storeName":      "event.field.store",
	"q":              "events.search",
	"status":         "events.filter.status",
	"channel":        "events.filter.channel",
	"channel_status": "events.filter.channel_status",
	"cursor":         "field.cursor",
	"channels":       "detail.start_channels",
	"when":           "schedule.when",
	"at":             "schedule.at_label",
	"from":           "retries.from",
	"to":             "retries.to",
	"email":          "login.email",
	"password":       "login.password",
	"lang":           "lang.label",
	"token name":     "tokens.name",
}

// FieldLabel is the label of an input (by its JSON or form name) in lang.
func FieldLabel(lang, field string) string {
	if key, ok := fieldLabels[field]; ok {
		return T(lang, key)
	}
	return field
}

// ErrorText is err as a person reads it in lang: the catalogue text of its key with its
// arguments shown by their display names (a field by its label, a channel, role or status by
// its name, numbers grouped). An error without a key is the generic text of its code in Korean
// and its English message in English; an internal error never shows its text.
func ErrorText(lang string, err error) string {
	var e *model.Error
	if !errors.As(err, &e) {
		return ErrorInfo{Status: 500}.Heading(lang)
	}
	text := errorText(lang, e)
	for _, also := range e.Also {
		text += " " + errorText(lang, also)
	}
	return text
}

// errorText is one application error in lang (ErrorText).
func errorText(lang string, e *model.Error) string {
	if _, ok := lookup(e.Key); ok && e.Key != "" {
		args := make([]any, 0, len(e.Args)+1)
		if e.Field != "" {
			args = append(args, FieldLabel(lang, e.Field))
		}
		for _, a := range e.Args {
			args = append(args, displayArg(lang, a))
		}
		if len(args) == 0 {
			return T(lang, e.Key)
		}
		format := T(lang, e.Key)
		if strings.Contains(format, "%d") {
			format = e.Key // the printer's catalogue holds count texts with their plural forms
		}
		return printer(lang).Sprintf(format, args...)
	}
	if lang == LangEN && e.Message != "" {
		return e.Message
	}
	return ErrorInfo{Status: model.HTTPStatus(e.Code)}.Heading(lang)
}

// displayArg is an error argument as shown in lang.
func displayArg(lang string, a any) any {
	switch v := a.(type) {
	case model.Channel:
		return v.Name(lang)
	case model.Role:
		if _, ok := lookup("role." + string(v)); ok {
			return T(lang, "role."+string(v))
		}
	case model.ChannelStatus:
		if _, ok := lookup("status." + string(v)); ok {
			return T(lang, "status."+string(v))
		}
	case model.OverallStatus:
		if _, ok := lookup("overall." + string(v)); ok {
			return T(lang, "overall."+string(v))
		}
	case model.Field:
		return FieldLabel(lang, string(v))
	case model.Fields:
		labels := make([]string, len(v))
		for i, f := range v {
			labels[i] = FieldLabel(lang, f)
		}
		return strings.Join(labels, ", ")
	}
	return a
}

// TriggerText is who or what started an attempt (its trigger, "system", "retry:<actor>", ...)
// as a person reads it: Automatic, Automatic retry, or the person (an API token by its name)
// with what they did when it was not a plain retry or start.
func TriggerText(lang, trigger string) string {
	kind, actor, ok := strings.Cut(trigger, ":")
	if !ok {
		if _, known := lookup("trigger." + trigger); known {
			return T(lang, "trigger."+trigger)
		}
		return trigger
	}
	if _, known := lookup("trigger." + kind); !known {
		return trigger
	}
	who := actor
	if name, isToken := strings.CutPrefix(actor, "token:"); isToken {
		who = name + " (" + T(lang, "trigger.token") + ")"
	}
	switch kind {
	case "retry", "start":
		return who
	}
	return who + " · " + T(lang, "trigger."+kind)
}

// attemptStatus is the HTTP status shown before an attempt's error, "" when there is none or the
// error already says it ("… (HTTP 503: …)"): the status is said once.
func attemptStatus(a model.Attempt) string {
	if a.HTTPStatus == nil {
		return ""
	}
	st := strconv.Itoa(*a.HTTPStatus)
	if a.Error != nil && strings.Contains(*a.Error, "HTTP "+st) {
		return ""
	}
	return st
}

// attemptPhrases are the engine's and the channel adapters' English phrases in attempt errors
// (internal/channels, internal/engine) with their catalogue keys, longest first where one
// starts another. The channel's own words and the technical detail in brackets stay as sent.
var attemptPhrases = []struct {
	re  *regexp.Regexp
	key string
}{
	{regexp.MustCompile(`^failed after (\d+) attempts?: `), "atterr.failed_after"},
	{regexp.MustCompile(`^attempt (\d+) of (\d+) failed: (.*); retrying automatically`), "atterr.attempt_of"},
	{regexp.MustCompile(`^cancelled by (.+)$`), "atterr.cancelled_by"},
	{regexp.MustCompile(`^cancelled$`), "atterr.cancelled"},
	{regexp.MustCompile(`^interrupted: the worker stopped`), "atterr.interrupted"},
	{regexp.MustCompile(`^worker lost: the work on this channel was interrupted (\d+) times; retry it when the service is stable`), "atterr.worker_lost_n"},
	{regexp.MustCompile(`^worker lost`), "atterr.worker_lost"},
	{regexp.MustCompile(`the channel answered: `), "atterr.answered"},
	{regexp.MustCompile(`the channel is rate limiting requests; trying again in (\S+)`), "atterr.rate_limited"},
	{regexp.MustCompile(`rate limited by the channel; trying again in (\S+)`), "atterr.rate_limited"},
	{regexp.MustCompile(`the channel is having problems`), "atterr.problems"},
	{regexp.MustCompile(`the channel rejected the post`), "atterr.rejected"},
	{regexp.MustCompile(`the channel could not publish the post`), "atterr.could_not_publish"},
	{regexp.MustCompile(`the channel did not answer in time`), "atterr.timeout"},
	{regexp.MustCompile(`the channel gave an unexpected answer`), "atterr.unexpected"},
	{regexp.MustCompile(`the channel endpoint redirected; redirects are not followed`), "atterr.redirect"},
	{regexp.MustCompile(`the channel endpoint points to a private or local network address, which is not allowed`), "atterr.private"},
	{regexp.MustCompile(`the connection to the channel was interrupted`), "atterr.conn_interrupted"},
	{regexp.MustCompile(`could not reach the channel \(connection refused\)`), "atterr.refused"},
	{regexp.MustCompile(`could not reach the channel \(name not found\)`), "atterr.no_name"},
	{regexp.MustCompile(`could not reach the channel`), "atterr.unreachable"},
	{regexp.MustCompile(`the channel sent an unreadable answer`), "atterr.unreadable"},
	{regexp.MustCompile(`the channel lost track of the publication`), "atterr.lost_track"},
	{regexp.MustCompile(`the publication was interrupted`), "atterr.pub_interrupted"},
	{regexp.MustCompile(`the channel did not finish the publication in time`), "atterr.pub_timeout"},
	{regexp.MustCompile(`the channel endpoint is misconfigured`), "atterr.misconfigured"},
	{regexp.MustCompile(`the channel's response was too large`), "atterr.too_large"},
	{regexp.MustCompile(`the channel returned an incomplete result`), "atterr.incomplete"},
	{regexp.MustCompile(`the channel returned an invalid result`), "atterr.invalid_result"},
	{regexp.MustCompile(`the channel is not supported`), "atterr.unsupported"},
	{regexp.MustCompile(`the job was cancelled by an operator`), "atterr.job_cancelled"},
	{regexp.MustCompile(`unexpected error while publishing`), "atterr.unexpected_error"},
	{regexp.MustCompile(`the channel failed`), "atterr.failed"},
}

// AttemptErrorText is an attempt's (or a channel's) error as stored, in lang: the engine's and
// adapters' phrases from the catalogue, each at most once, with the channel's own words and the
// technical detail kept as they came. English is the stored text itself.
func AttemptErrorText(lang, text string) string {
	if lang == LangEN {
		return text
	}
	for _, ph := range attemptPhrases {
		text = replaceOnce(ph.re, text, func(groups []string) string {
			args := make([]any, len(groups))
			for i, g := range groups {
				args[i] = AttemptErrorText(lang, g) // a quoted reason may hold phrases too
			}
			return fmt.Sprintf(T(lang, ph.key), args...)
		})
	}
	return text
}

// replaceOnce replaces the first match of re in s by repl of its groups.
func replaceOnce(re *regexp.Regexp, s string, repl func(groups []string) string) string {
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return s
	}
	groups := make([]string, 0, len(m)/2-1)
	for i := 2; i < len(m); i += 2 {
		groups = append(groups, s[m[i]:m[i+1]])
	}
	return s[:m[0]] + repl(groups) + s[m[1]:]
}
