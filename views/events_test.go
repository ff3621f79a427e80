package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

func render(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	return doc(t, buf.String())
}

func page(lang string, role model.Role) views.Page {
	return views.Page{Lang: lang, Title: "T", CSRF: "tok123", Path: "/", Principal: &model.Principal{UserID: 1, Name: "u@example.com", Role: role}}
}

func ptr[T any](v T) *T { return &v }

var t0 = time.Date(2025, 3, 1, 15, 4, 5, 0, time.UTC)

// dist builds a distribution of eventID with one channel per status given.
func dist(eventID string, overall model.OverallStatus, chans map[model.Channel]model.ChannelStatus) *model.Distribution {
	d := &model.Distribution{EventID: eventID, OverallStatus: overall, StartedAt: t0}
	for i, ch := range model.AllChannels {
		st, ok := chans[ch]
		if !ok {
			continue
		}
		c := model.ChannelState{EventID: eventID, Channel: ch, Status: st, Progress: 20 * i, UpdatedAt: t0.Add(time.Duration(i) * time.Millisecond)}
		if st == model.StatusSuccess {
			c.Progress = 100
		}
		if st == model.StatusFailed {
			c.ErrorMessage = ptr("failed after 3 attempts: 503 from channel")
		}
		d.Channels = append(d.Channels, c)
	}
	return d
}

// noUntrustedInDataAttrs fails when marker appears in any data-* attribute (STACK.md: Datastar
// evaluates them; untrusted text belongs in text nodes only).
func noUntrustedInDataAttrs(t *testing.T, d *goquery.Document, marker string) {
	t.Helper()
	d.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "data-") && strings.Contains(a.Val, marker) {
				t.Errorf("untrusted text in %s=%q", a.Key, a.Val)
			}
		}
	})
}

func TestEventListHooks(t *testing.T) {
	t.Parallel()
	evil := `<img src=x onerror=alert(1)>'"); alert(2); //`
	all := map[model.Channel]model.ChannelStatus{
		model.ChannelUridongneTV: model.StatusPending, model.ChannelRingoBiz: model.StatusInProgress,
		model.ChannelGiniTV: model.StatusSuccess, model.ChannelKakao: model.StatusFailed,
	}
	v := views.ListView{
		Filter: model.EventFilter{Q: evil, Status: model.OverallPartialSuccess},
		Events: []model.Event{
			{ID: "ev-1", Title: evil, StoreName: evil, CreatedAt: t0, Distribution: dist("ev-1", model.OverallInProgress, all)},
			{ID: "ev-2", Title: "Plain", CreatedAt: t0},
		},
		NextCursor: "abc_-",
		Counts:     map[model.OverallStatus]int{model.OverallInProgress: 1234},
		Total:      2000,
		Form:       views.EventForm{Title: evil, Error: "title is required"},
	}
	d := render(t, views.EventList(page("en", model.RoleMarketer), v))

	row := d.Find(`tr[data-event-id="ev-1"]`)
	if row.Length() != 1 {
		t.Fatal("no row hook")
	}
	for ch, st := range all {
		el := row.Find(`[data-channel="` + string(ch) + `"][data-status="` + string(st) + `"]`)
		if el.Length() != 1 {
			t.Errorf("%s: no channel hook", ch)
			continue
		}
		if _, ok := el.Attr("data-updated-at"); !ok {
			t.Errorf("%s: no data-updated-at", ch)
		}
		bar := el.Find(`[role="progressbar"][aria-valuemin="0"][aria-valuemax="100"]`)
		if l, _ := bar.Attr("aria-label"); l != ch.Name("en") {
			t.Errorf("%s: aria-label %q", ch, l)
		}
		if _, ok := bar.Attr("aria-valuenow"); !ok {
			t.Errorf("%s: no aria-valuenow", ch)
		}
	}
	if got, _ := row.Find(`[data-channel="KAKAO"]`).Attr("data-updated-at"); got != "1740841445005" {
		t.Errorf("data-updated-at %q", got)
	}
	if got, _ := row.Find(`[data-channel="GINITV"] [role="progressbar"]`).Attr("aria-valuenow"); got != "100" {
		t.Errorf("aria-valuenow %q", got)
	}
	if d.Find(`tr[data-event-id="ev-2"] a[data-action="start-link"][href="/events/ev-2#start"]`).Length() != 1 {
		t.Error("no start link for an event without distribution")
	}
	if href, _ := d.Find(`a[data-action="next-page"]`).Attr("href"); !strings.Contains(href, "cursor=abc_-") || !strings.Contains(href, "status=PARTIAL_SUCCESS") {
		t.Errorf("next link %q", href)
	}
	if d.Find(`#status-counts [data-count-status="IN_PROGRESS"] [data-count]`).Text() != "1,234" {
		t.Error("counts")
	}
	if d.Find(`#status-counts [data-count-status="PARTIAL_SUCCESS"][aria-current="page"]`).Length() != 1 {
		t.Error("current status filter not marked")
	}
	form := d.Find(`form[data-action="create-event"][method="post"][action="/events"]`)
	if form.Find(`input[name="_csrf"][value="tok123"]`).Length() != 1 || form.Find(`input[name="title"]`).Length() != 1 {
		t.Error("new event form")
	}
	if d.Find(`[data-live-state="reconnecting"][data-attr\:data-live-state]`).Length() != 1 {
		t.Error("live indicator")
	}
	init, _ := d.Find("#live-stream").Attr("data-init")
	if !strings.Contains(init, "'/events/stream' + window.location.search") || !strings.Contains(init, "retry: 'always'") {
		t.Errorf("stream init %q", init)
	}
	if d.Find(`#announcer[aria-live="polite"]`).Length() != 1 {
		t.Error("no polite announcer")
	}
	if !strings.Contains(row.Text(), evil) {
		t.Error("title not shown as text")
	}
	noUntrustedInDataAttrs(t, d, "alert")

	ko := render(t, views.EventList(page("ko", model.RoleMarketer), v))
	if l, _ := ko.Find(`tr[data-event-id="ev-1"] [data-channel="URIDONGNETV"] [role="progressbar"]`).Attr("aria-label"); l != "우리동네TV" {
		t.Errorf("ko aria-label %q", l)
	}
}

func TestEventDetailHooks(t *testing.T) {
	t.Parallel()
	evil := `<script>alert(1)</script>`
	chans := map[model.Channel]model.ChannelStatus{
		model.ChannelInstagram: model.StatusSuccess, model.ChannelNaver: model.StatusFailed,
		model.ChannelKakao: model.StatusFailed, model.ChannelGiniTV: model.StatusInProgress, model.ChannelRingoBiz: model.StatusPending,
	}
	d := dist("ev1", model.OverallInProgress, chans)
	for i := range d.Channels {
		c := &d.Channels[i]
		switch c.Channel {
		case model.ChannelInstagram:
			c.PostURL, c.PostID, c.EstimatedViews = ptr("https://www.instagram.com/p/x/"), ptr("x"), ptr(1500)
		case model.ChannelNaver:
			c.PostURL = ptr("javascript:alert(1)")
			c.ErrorMessage = ptr(evil)
			c.Retries, c.LastRetryAt = 2, ptr(t0)
		case model.ChannelGiniTV:
			c.ErrorMessage = ptr("attempt 1 of 3 failed: 503; retrying automatically")
			c.ImpressionSchedule = ptr(`[{"start":"2025-03-02T20:00:00+09:00","end":"2025-03-02T23:00:00+09:00","slot":"prime","spots":6}]`)
		}
	}
	ev := model.Event{ID: "ev1", Title: evil, Description: evil, Distribution: d}
	attempts := []model.Attempt{{Channel: model.ChannelNaver, Attempt: 1, Trigger: "retry:" + evil, StartedAt: t0, Outcome: model.OutcomeFailed, Error: ptr(evil), HTTPStatus: ptr(400)}}

	for _, tc := range []struct {
		role     model.Role
		canRetry bool
	}{{model.RoleMarketer, false}, {model.RoleStaff, true}, {model.RoleManager, true}} {
		doc := render(t, views.EventDetail(page("en", tc.role), views.DetailView{Event: ev, Attempts: attempts}))
		if doc.Find(`[data-overall-status="IN_PROGRESS"]`).Length() != 1 {
			t.Errorf("%s: overall hook", tc.role)
		}
		for ch, st := range chans {
			card := doc.Find(`[data-channel="` + string(ch) + `"][data-status="` + string(st) + `"][data-updated-at]`)
			if card.Find(`[role="progressbar"][aria-valuenow][aria-label="`+ch.Name("en")+`"]`).Length() != 1 {
				t.Errorf("%s: %s card hooks", tc.role, ch)
			}
			n := card.Find(`button[data-action="retry"]`).Length()
			if want := tc.canRetry && st == model.StatusFailed; (n == 1) != want {
				t.Errorf("%s: %s (%s) has %d retry buttons", tc.role, ch, st, n)
			}
		}
		if n := doc.Find(`button[data-action="retry-failed"]`).Length(); (n == 1) != tc.canRetry {
			t.Errorf("%s: %d retry-failed buttons", tc.role, n)
		}
		noUntrustedInDataAttrs(t, doc, "alert")
		if strings.Contains(doc.Text(), "<script>") == false {
			t.Errorf("%s: untrusted text not shown as text", tc.role)
		}
	}

	doc := render(t, views.EventDetail(page("en", model.RoleStaff), views.DetailView{Event: ev, Attempts: attempts}))
	retry := doc.Find(`[data-channel="KAKAO"] form:has(button[data-action="retry"])`)
	if a, _ := retry.Attr("action"); a != "/events/ev1/channels/KAKAO/retry" {
		t.Errorf("retry action %q", a)
	}
	// The focus moves to the card first (it survives the card's re-render; the button does not).
	if on, _ := retry.Attr("data-on:submit"); on != "el.closest('[data-channel]')?.focus(); @post('/events/ev1/channels/KAKAO/retry', {contentType: 'form', headers: {'X-CSRF-Token': $_csrf}})" {
		t.Errorf("retry data-on:submit %q", on)
	}
	if ind, _ := retry.Attr("data-indicator"); ind != "_busyKAKAO" {
		t.Errorf("indicator %q", ind)
	}
	if dis, _ := retry.Find("button").Attr("data-attr:disabled"); dis != "$_busyKAKAO" {
		t.Errorf("disabled while pending: %q", dis)
	}
	if retry.Find(`input[name="_csrf"]`).Length() != 0 || strings.Contains(retry.Text(), "tok123") {
		t.Error("retry form carries the viewer's CSRF token: live feeds share it between viewers")
	}
	if doc.Find(`button[data-action="retry-failed"][disabled]`).Length() != 0 {
		t.Error("retry-failed disabled although channels failed")
	}
	naver := doc.Find(`[data-channel="NAVER"]`)
	if naver.Find(`a[href^="javascript"]`).Length() != 0 {
		t.Error("javascript: post url linked")
	}
	if naver.Find(`details[data-preserve-attr="open"] [data-error-message]`).Text() != evil {
		t.Error("raw error detail")
	}
	if naver.Find(`[data-retries]`).Text() != "2" {
		t.Error("retries")
	}
	if href, _ := doc.Find(`[data-channel="INSTAGRAM"] a[data-post-link]`).Attr("href"); href != "https://www.instagram.com/p/x/" {
		t.Errorf("post link %q", href)
	}
	gini := doc.Find(`[data-channel="GINITV"]`)
	if !strings.Contains(gini.Find("[data-error]").Text(), "retried automatically") {
		t.Error("automatic retry note")
	}
	if !strings.Contains(gini.Find("table[data-impression-schedule]").Text(), "Prime time") {
		t.Error("schedule table")
	}
	if doc.Find(`#attempts-ev1 tr[data-attempt="NAVER-1"][data-outcome="failed"]`).Length() != 1 {
		t.Error("attempt history row")
	}
	if on, _ := retry.Attr("data-on:datastar-fetch"); !strings.Contains(on, "tpl-action-failed") {
		t.Errorf("retry form does not report a refused request: %q", on)
	}
	if !strings.Contains(doc.Find("template#tpl-action-failed").Text(), "Reload the page") {
		t.Error("no refused-request toast template")
	}
	init, _ := doc.Find("#live-stream").Attr("data-init")
	if init != "@get('/events/ev1/stream', {retry: 'always', requestCancellation: 'cleanup'})" {
		t.Errorf("stream init %q", init)
	}

	// Nothing failed: retry-failed is there but disabled.
	ok := dist("ev1", model.OverallCompleted, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusSuccess})
	ok.CompletedAt = ptr(t0.Add(time.Minute))
	doc = render(t, views.EventDetail(page("en", model.RoleStaff), views.DetailView{Event: model.Event{ID: "ev1", Title: "x", Distribution: ok}}))
	if doc.Find(`button[data-action="retry-failed"][disabled]`).Length() != 1 {
		t.Error("retry-failed not disabled without failures")
	}
	// The zone is the viewer's setting, never the language's (issue 15.4): English in the
	// default zone reads Seoul time.
	if got := doc.Find(`[data-overall-status="COMPLETED"] [data-completed-at] time[datetime="2025-03-01T15:05:05Z"]`).Text(); got != "2025-03-02 00:05:05 KST" {
		t.Errorf("completed time (en, default zone) %q", got)
	}
	doc = render(t, views.EventDetail(page("ko", model.RoleStaff), views.DetailView{Event: model.Event{ID: "ev1", Title: "x", Distribution: ok}}))
	if doc.Find(`[data-completed-at] time`).Text() != "2025-03-02 00:05:05 KST" {
		t.Errorf("completed time (ko) %q", doc.Find(`[data-completed-at] time`).Text())
	}
}

func TestEventDetailStartForm(t *testing.T) {
	t.Parallel()
	doc := render(t, views.EventDetail(page("ko", model.RoleMarketer), views.DetailView{Event: model.Event{ID: "ev9", Title: "새 이벤트"}}))
	form := doc.Find(`form[data-action="start-distribution"][method="post"][action="/events/ev9/distribution"]`)
	if form.Length() != 1 {
		t.Fatal("no start form")
	}
	for _, ch := range model.AllChannels {
		in := form.Find(`input[name="channels"][value="` + string(ch) + `"]`)
		if _, checked := in.Attr("checked"); in.Length() != 1 || !checked {
			t.Errorf("%s not offered checked", ch)
		}
		if !strings.Contains(in.Parent().Text(), ch.Name("ko")) {
			t.Errorf("%s label not in Korean", ch)
		}
	}
	if form.Find(`input[name="_csrf"]`).Length() != 0 {
		t.Error("start form carries the viewer's CSRF token: live feeds share it between viewers")
	}
	if on, _ := form.Attr("data-on:submit"); !strings.Contains(on, "headers: {'X-CSRF-Token': $_csrf}") {
		t.Errorf("start form does not send the token header: %q", on)
	}
	if doc.Find(`[data-overall-status], [data-channel]`).Length() != 0 {
		t.Error("distribution hooks without a distribution")
	}
}

func TestBulkRetryView(t *testing.T) {
	t.Parallel()
	doc := render(t, views.BulkRetry(page("en", model.RoleStaff), views.BulkRetryView{Channel: model.ChannelKakao, From: "2025-01-01", Checked: true, Count: 1500, Limit: 1000}))
	if v, _ := doc.Find("[data-bulk-count]").Attr("data-bulk-count"); v != "1500" {
		t.Errorf("count %q", v)
	}
	confirm := doc.Find(`form[method="post"][action="/retries"]`)
	if confirm.Find(`input[name="channel"][value="KAKAO"]`).Length() != 1 || confirm.Find(`input[name="from"][value="2025-01-01"]`).Length() != 1 {
		t.Error("confirmation does not carry the filter")
	}
	if !strings.Contains(confirm.Find(`button[data-action="bulk-retry-confirm"]`).Text(), "Retry 1,000 channels") {
		t.Errorf("confirm text %q", confirm.Text())
	}
	doc = render(t, views.BulkRetry(page("en", model.RoleStaff), views.BulkRetryView{}))
	if doc.Find("[data-bulk-count], button[data-action=\"bulk-retry-confirm\"]").Length() != 0 {
		t.Error("count or confirmation before the filter was submitted")
	}
}

func TestToastAndFormat(t *testing.T) {
	t.Parallel()
	d := render(t, views.Toast(views.ToastError, `<b>x</b>`))
	if d.Find(`[data-toast="error"]`).Text() != "<b>x</b>" {
		t.Error("toast text")
	}
	// The zone is the viewer's setting, not the language's (issue 15.4).
	if got := views.FormatTime(views.ZoneOf(context.Background()), t0); got != "2025-03-02 00:04:05 KST" {
		t.Errorf("FormatTime default zone %q", got)
	}
	if got := views.FormatTime(time.UTC, t0); got != "2025-03-01 15:04:05 UTC" {
		t.Errorf("FormatTime UTC %q", got)
	}
}

func TestStuckBadgeOnCardsAndRows(t *testing.T) {
	t.Parallel()
	d := dist("ev1", model.OverallInProgress, map[model.Channel]model.ChannelStatus{model.ChannelKakao: model.StatusInProgress, model.ChannelNaver: model.StatusSuccess})
	p := page("en", model.RoleStaff)
	for _, tc := range []struct {
		now   time.Time
		stuck int
	}{{time.Time{}, 0}, {t0.Add(time.Minute), 0}, {t0.Add(time.Hour), 1}} {
		p.Now = tc.now
		doc := render(t, views.EventDetail(p, views.DetailView{Event: model.Event{ID: "ev1", Title: "x", Distribution: d}}))
		if n := doc.Find(`[data-channel="KAKAO"] [data-stuck]`).Length(); n != tc.stuck {
			t.Errorf("now %v: %d stuck badges on the KAKAO card", tc.now, n)
		}
		if doc.Find(`[data-channel="NAVER"] [data-stuck]`).Length() != 0 {
			t.Error("a finished channel is flagged stuck")
		}
		list := render(t, views.EventList(p, views.ListView{Events: []model.Event{{ID: "ev1", Title: "x", Distribution: d}}}))
		if n := list.Find(`tr[data-event-id="ev1"] [data-channel="KAKAO"] [data-stuck]`).Length(); n != tc.stuck {
			t.Errorf("now %v: %d stuck badges in the list row", tc.now, n)
		}
	}
}
