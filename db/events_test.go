package db_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

var uuidV4 = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestCreateAndFindEvent(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	in := model.Event{Title: "  봄맞이 세일 <b>50%</b>  ", Description: "desc", ImageURL: "https://img.example.com/a.png", StoreName: " 강남점 "}
	e, err := d.CreateEvent(ctx, in, "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !uuidV4.MatchString(e.ID) {
		t.Errorf("generated id %q is not a UUID v4", e.ID)
	}
	if e.Title != "봄맞이 세일 <b>50%</b>" || e.StoreName != "강남점" || e.Description != "desc" || e.ImageURL != in.ImageURL {
		t.Errorf("created event = %+v", e)
	}
	if e.CreatedAt.IsZero() {
		t.Error("created_at not set")
	}

	got, err := d.FindEventByID(ctx, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != e.ID || got.Title != e.Title || !got.CreatedAt.Equal(e.CreatedAt) || got.Distribution != nil {
		t.Errorf("found %+v, want %+v without distribution", got, e)
	}
	var by string
	if err := d.Pool.QueryRow(ctx, `SELECT created_by FROM events WHERE id = $1`, e.ID).Scan(&by); err != nil || by != "alice@example.com" {
		t.Errorf("created_by = %q (%v)", by, err)
	}

	// A description keeps its lines, stored with LF whatever the client's line ends were: a bare CR
	// reaching an SSE data line would end it (X1).
	ml, err := d.CreateEvent(ctx, model.Event{Title: "lines", Description: "one\r\ntwo\rthree\nfour"}, "svc")
	if err != nil || ml.Description != "one\ntwo\nthree\nfour" {
		t.Fatalf("multi-line description stored as %q (%v)", ml.Description, err)
	}

	// A client-supplied id is kept; a second create with it conflicts.
	c, err := d.CreateEvent(ctx, model.Event{ID: "ext_evt-42", Title: "x"}, "svc")
	if err != nil || c.ID != "ext_evt-42" {
		t.Fatalf("create with client id: %+v, %v", c, err)
	}
	_, err = d.CreateEvent(ctx, model.Event{ID: "ext_evt-42", Title: "y"}, "svc")
	wantCode(t, err, model.ECONFLICT)
	if msg := model.ErrorMessage(err); msg != "event ext_evt-42 already exists" {
		t.Errorf("conflict message = %q", msg)
	}

	_, err = d.FindEventByID(ctx, "nope")
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.FindEventByID(ctx, "../x")
	wantCode(t, err, model.EINVALID)

	// FindEvent (the pre-flight's read): the same row alone, the same errors.
	row, err := d.FindEvent(ctx, e.ID)
	if err != nil || row.ID != e.ID || row.Title != e.Title || row.ImageURL != e.ImageURL || row.StoreName != e.StoreName ||
		!row.CreatedAt.Equal(e.CreatedAt) || row.Distribution != nil {
		t.Errorf("FindEvent = %+v (%v), want %+v", row, err, e)
	}
	for id, code := range map[string]string{"nope": model.ENOTFOUND, "../x": model.EINVALID, "a\r\nb": model.EINVALID, "\x00": model.EINVALID, "\xff": model.EINVALID} {
		_, err = d.FindEvent(ctx, id)
		wantCode(t, err, code)
	}
}

func TestFindEventByIDIncludesDistribution(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev-1", "one")
	// Inserted out of display order: reads must return display order.
	insertDistribution(t, d, "ev-1", model.OverallInProgress,
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusFailed},
		seedChannel{Channel: model.ChannelUridongneTV, Status: model.StatusSuccess, Progress: 100, DistributionID: "UDT-1"},
		seedChannel{Channel: model.ChannelInstagram, Status: model.StatusInProgress, Progress: 40})

	e, err := d.FindEventByID(ctx, "ev-1")
	if err != nil {
		t.Fatal(err)
	}
	if e.Distribution == nil {
		t.Fatal("distribution missing")
	}
	if e.Distribution.EventID != "ev-1" || e.Distribution.OverallStatus != model.OverallInProgress {
		t.Errorf("distribution = %+v", e.Distribution)
	}
	if got := channelsOf(e.Distribution); !slices.Equal(got, []string{"URIDONGNETV:SUCCESS", "INSTAGRAM:IN_PROGRESS", "KAKAO:FAILED"}) {
		t.Errorf("channels = %v", got)
	}
	if u := e.Distribution.Channel(model.ChannelUridongneTV); u.Progress != 100 || u.DistributionID == nil || *u.DistributionID != "UDT-1" || u.EventID != "ev-1" {
		t.Errorf("URIDONGNETV state = %+v", u)
	}
}

func channelsOf(d *model.Distribution) []string {
	var out []string
	for _, c := range d.Channels {
		out = append(out, string(c.Channel)+":"+string(c.Status))
	}
	return out
}

func TestCreateEventValidation(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	ok := model.Event{Title: "ok"}
	with := func(f func(e *model.Event)) model.Event { e := ok; f(&e); return e }
	for _, tc := range []struct {
		name  string
		event model.Event
		field string // the message must name it
	}{
		{"path id", with(func(e *model.Event) { e.ID = "../x" }), "id"},
		{"star id", with(func(e *model.Event) { e.ID = "*" }), "id"},
		{"37-char id", with(func(e *model.Event) { e.ID = strings.Repeat("a", 37) }), "id"},
		{"10 KB id", with(func(e *model.Event) { e.ID = strings.Repeat("a", 10240) }), "id"},
		{"empty title", with(func(e *model.Event) { e.Title = "" }), "title"},
		{"blank title", with(func(e *model.Event) { e.Title = " \t\n " }), "title"},
		{"501-char title", with(func(e *model.Event) { e.Title = strings.Repeat("가", 501) }), "title"},
		{"NUL in title", with(func(e *model.Event) { e.Title = "a\x00b" }), "title"},
		{"invalid UTF-8 title", with(func(e *model.Event) { e.Title = "a\xffb" }), "title"},
		{"CR in title", with(func(e *model.Event) { e.Title = "a\revent: datastar-patch-signals" }), "title"},
		{"LF in store", with(func(e *model.Event) { e.StoreName = "a\nb" }), "storeName"},
		{"CRLF in store", with(func(e *model.Event) { e.StoreName = "a\r\nb" }), "storeName"},
		{"DEL in title", with(func(e *model.Event) { e.Title = "a\x7fb" }), "title"},
		{"invalid UTF-8 store", with(func(e *model.Event) { e.StoreName = "\xff" }), "storeName"},
		{"NUL in description", with(func(e *model.Event) { e.Description = "a\x00b" }), "description"},
		{"ESC in description", with(func(e *model.Event) { e.Description = "a\x1b[31m" }), "description"},
		{"5001-char description", with(func(e *model.Event) { e.Description = strings.Repeat("d", 5001) }), "description"},
		{"javascript image", with(func(e *model.Event) { e.ImageURL = "javascript:alert(1)" }), "imageUrl"},
		{"ftp image", with(func(e *model.Event) { e.ImageURL = "ftp://example.com/a.png" }), "imageUrl"},
		{"hostless image", with(func(e *model.Event) { e.ImageURL = "https://" }), "imageUrl"},
		{"relative image", with(func(e *model.Event) { e.ImageURL = "/a.png" }), "imageUrl"},
		{"2001-char image", with(func(e *model.Event) { e.ImageURL = "https://e.com/" + strings.Repeat("a", 1987) }), "imageUrl"},
		{"201-char store", with(func(e *model.Event) { e.StoreName = strings.Repeat("s", 201) }), "storeName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := d.CreateEvent(ctx, tc.event, "test")
			wantCode(t, err, model.EINVALID)
			if msg := model.ErrorMessage(err); !strings.HasPrefix(msg, tc.field+" ") {
				t.Errorf("message %q does not name %s", msg, tc.field)
			}
		})
	}
	var n int
	if err := d.Pool.QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d events written by invalid creates (%v)", n, err)
	}

	// The limits themselves are accepted (characters, not bytes).
	for _, e := range []model.Event{
		{ID: strings.Repeat("a", 36), Title: strings.Repeat("가", 500), Description: strings.Repeat("설", 5000),
			ImageURL: "http://e.com/" + strings.Repeat("a", 1987), StoreName: strings.Repeat("점", 200)},
		{ID: "B-1_x", Title: "x", ImageURL: "HTTPS://E.COM/A.PNG"},
	} {
		if _, err := d.CreateEvent(ctx, e, "test"); err != nil {
			t.Errorf("create at the limits: %v", err)
		}
	}
}

// walk pages through FindEvents and returns the ids in order.
func walk(t *testing.T, d *db.DB, f model.EventFilter) []string {
	t.Helper()
	var ids []string
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("pagination does not end")
		}
		page, err := d.FindEvents(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) > max(f.Limit, 1) && f.Limit > 0 {
			t.Fatalf("page of %d events, limit %d", len(page.Events), f.Limit)
		}
		for _, e := range page.Events {
			ids = append(ids, e.ID)
		}
		if page.NextCursor == "" {
			return ids
		}
		f.Cursor = page.NextCursor
	}
}

func TestFindEventsKeysetPagination(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	// 53 events over 5 distinct instants: most rows tie on created_at, so the id tie-breaker matters.
	if _, err := d.Pool.Exec(ctx, `INSERT INTO events (id, title, created_at)
		SELECT 'ev-' || lpad(g::text, 3, '0'), 'event ' || g, timestamptz '2030-01-01 00:00:00.123456+00' + (g % 5) * interval '1 microsecond'
		FROM generate_series(1, 53) g`); err != nil {
		t.Fatal(err)
	}
	var want []string
	rows, err := d.Pool.Query(ctx, `SELECT id FROM events ORDER BY created_at DESC, id DESC`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		rows.Scan(&id) //nolint:errcheck
		want = append(want, id)
	}
	rows.Close()

	for _, limit := range []int{1, 7, 25, 53, 100} {
		got := walk(t, d, model.EventFilter{Limit: limit})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: walked %d ids %v, want %v", limit, len(got), got, want)
		}
	}

	// A status filter pages in the same order and ties (it reads distribution_status's list-order
	// index, whose event_created_at the insert trigger copies from the event).
	if _, err := d.Pool.Exec(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT id, CASE WHEN substr(id, 4)::int % 3 = 0 THEN 'FAILED' ELSE 'COMPLETED' END, now() FROM events`); err != nil {
		t.Fatal(err)
	}
	var wantFailed []string
	for _, id := range want {
		var n int
		fmt.Sscanf(id, "ev-%d", &n) //nolint:errcheck
		if n%3 == 0 {
			wantFailed = append(wantFailed, id)
		}
	}
	for _, limit := range []int{1, 4, 25} {
		got := walk(t, d, model.EventFilter{Status: model.OverallFailed, Limit: limit})
		if !slices.Equal(got, wantFailed) {
			t.Errorf("failed only, limit %d: walked %v, want %v", limit, got, wantFailed)
		}
	}

	// The last page has no cursor; an exact multiple ends without an empty extra page.
	page, err := d.FindEvents(ctx, model.EventFilter{Limit: 53})
	if err != nil || len(page.Events) != 53 || page.NextCursor != "" {
		t.Errorf("single full page: %d events, cursor %q, %v", len(page.Events), page.NextCursor, err)
	}

	// An insert while paging does not shift pages: rows older than the cursor stay put.
	first, err := d.FindEvents(ctx, model.EventFilter{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	// A new event is newer than everything: it belongs before page one and must not appear later.
	mustCreateEvent(t, d, "zz-new", "newest")
	if _, err := d.Pool.Exec(ctx, `UPDATE events SET created_at = '2031-01-01' WHERE id = 'zz-new'`); err != nil {
		t.Fatal(err)
	}
	rest := walk(t, d, model.EventFilter{Limit: 10, Cursor: first.NextCursor})
	all := append(idsOf(first.Events), rest...)
	if !slices.Equal(all, want) {
		t.Errorf("walk across an insert: %v, want %v", all, want)
	}
}

func idsOf(es []model.Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func TestFindEventsLimitClamp(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	if _, err := d.Pool.Exec(ctx, `INSERT INTO events (id, title) SELECT 'ev-' || g, 't' FROM generate_series(1, 130) g`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, want int }{{0, 25}, {-5, 25}, {1, 1}, {100, 100}, {1000, 100}} {
		page, err := d.FindEvents(ctx, model.EventFilter{Limit: tc.limit})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) != tc.want || page.NextCursor == "" {
			t.Errorf("limit %d: %d events (cursor %q), want %d and a cursor", tc.limit, len(page.Events), page.NextCursor, tc.want)
		}
	}
}

func TestFindEventsMalformedCursor(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, c := range []string{
		"!!!", "abc", b64("no-comma"), b64("12x,ev-1"), b64("123,../x"), b64("123,"), b64(",ev-1"),
		b64("99999999999999999999999,ev-1"), strings.Repeat("A", 10000),
	} {
		_, err := d.FindEvents(context.Background(), model.EventFilter{Cursor: c})
		wantCode(t, err, model.EINVALID)
		if msg := model.ErrorMessage(err); msg != "malformed cursor" {
			t.Errorf("cursor %.20q: message %q", c, msg)
		}
	}
}

func TestFindEventsFilters(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()

	// Oldest first so the expected lists below are newest first.
	for i, ev := range []struct{ id, title string }{
		{"ev-none", "No distribution yet"},
		{"ev-done", "Spring SALE in Gangnam"},
		{"ev-fail", "겨울 세일"},
		{"ev-part", "100% off_today"},
		{"ev-run", "Running now"},
		{"ev-donation", "Charity"},
	} {
		mustCreateEvent(t, d, ev.id, ev.title)
		// Distinct, ordered creation times regardless of how fast the inserts ran.
		if _, err := d.Pool.Exec(ctx, `UPDATE events SET created_at = timestamptz '2030-01-01' + $2 * interval '1 second' WHERE id = $1`, ev.id, i); err != nil {
			t.Fatal(err)
		}
	}
	insertDistribution(t, d, "ev-done", model.OverallCompleted,
		seedChannel{Channel: model.ChannelInstagram, Status: model.StatusSuccess, PostID: "IG_123"},
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusSuccess, MessageID: "KMSG-9"})
	insertDistribution(t, d, "ev-fail", model.OverallFailed,
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusFailed},
		seedChannel{Channel: model.ChannelNaver, Status: model.StatusFailed})
	insertDistribution(t, d, "ev-part", model.OverallPartialSuccess,
		seedChannel{Channel: model.ChannelGiniTV, Status: model.StatusSuccess, DistributionID: "GTV-77"},
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusFailed})
	insertDistribution(t, d, "ev-run", model.OverallInProgress,
		seedChannel{Channel: model.ChannelNaver, Status: model.StatusInProgress},
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusPending})
	insertDistribution(t, d, "ev-donation", model.OverallCompleted,
		seedChannel{Channel: model.ChannelRingoBiz, Status: model.StatusSuccess, DistributionID: "IG_12"})

	for _, tc := range []struct {
		name string
		f    model.EventFilter
		want []string
	}{
		{"all", model.EventFilter{}, []string{"ev-donation", "ev-run", "ev-part", "ev-fail", "ev-done", "ev-none"}},
		{"status completed", model.EventFilter{Status: model.OverallCompleted}, []string{"ev-donation", "ev-done"}},
		{"status failed", model.EventFilter{Status: model.OverallFailed}, []string{"ev-fail"}},
		{"status partial", model.EventFilter{Status: model.OverallPartialSuccess}, []string{"ev-part"}},
		{"status in progress", model.EventFilter{Status: model.OverallInProgress}, []string{"ev-run"}},
		{"channel kakao", model.EventFilter{Channel: model.ChannelKakao}, []string{"ev-run", "ev-part", "ev-fail", "ev-done"}},
		{"channel ginitv", model.EventFilter{Channel: model.ChannelGiniTV}, []string{"ev-part"}},
		{"channel uridongnetv", model.EventFilter{Channel: model.ChannelUridongneTV}, nil},
		{"kakao failed", model.EventFilter{Channel: model.ChannelKakao, ChannelStatus: model.StatusFailed}, []string{"ev-part", "ev-fail"}},
		{"naver failed", model.EventFilter{Channel: model.ChannelNaver, ChannelStatus: model.StatusFailed}, []string{"ev-fail"}},
		{"naver success", model.EventFilter{Channel: model.ChannelNaver, ChannelStatus: model.StatusSuccess}, nil},
		{"any failed", model.EventFilter{ChannelStatus: model.StatusFailed}, []string{"ev-part", "ev-fail"}},
		{"any pending", model.EventFilter{ChannelStatus: model.StatusPending}, []string{"ev-run"}},
		{"any success", model.EventFilter{ChannelStatus: model.StatusSuccess}, []string{"ev-donation", "ev-part", "ev-done"}},
		{"status and channel status", model.EventFilter{Status: model.OverallCompleted, ChannelStatus: model.StatusSuccess, Channel: model.ChannelKakao}, []string{"ev-done"}},
		{"q exact id", model.EventFilter{Q: "ev-done"}, []string{"ev-done"}},
		{"q id prefix", model.EventFilter{Q: "ev-do"}, []string{"ev-donation", "ev-done"}},
		{"q id infix is not a match", model.EventFilter{Q: "done"}, nil},
		{"q title case-insensitive", model.EventFilter{Q: "spring sale"}, []string{"ev-done"}},
		{"q title korean", model.EventFilter{Q: "세일"}, []string{"ev-fail"}},
		{"q percent is literal", model.EventFilter{Q: "100%"}, []string{"ev-part"}},
		{"q percent alone", model.EventFilter{Q: "%"}, []string{"ev-part"}},
		{"q underscore is literal", model.EventFilter{Q: "f_t"}, []string{"ev-part"}},
		{"q underscore wildcard would match", model.EventFilter{Q: "ev_"}, nil},
		{"q backslash", model.EventFilter{Q: `\`}, nil},
		{"q post id", model.EventFilter{Q: "IG_123"}, []string{"ev-done"}},
		{"q message id", model.EventFilter{Q: "KMSG-9"}, []string{"ev-done"}},
		{"q distribution id", model.EventFilter{Q: "GTV-77"}, []string{"ev-part"}},
		{"q distribution id exact only", model.EventFilter{Q: "GTV-7"}, nil},
		{"q post id exact only", model.EventFilter{Q: "IG_1"}, nil},
		{"q distribution id equals another's post id prefix", model.EventFilter{Q: "IG_12"}, []string{"ev-donation"}},
		{"q trimmed", model.EventFilter{Q: "  GTV-77 "}, []string{"ev-part"}},
		{"q with status", model.EventFilter{Q: "ev-", Status: model.OverallFailed}, []string{"ev-fail"}},
		{"q no match", model.EventFilter{Q: "zzz"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := walk(t, d, tc.f)
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			// Paging one row at a time gives the same answer.
			f := tc.f
			f.Limit = 1
			if got := walk(t, d, f); !slices.Equal(got, tc.want) {
				t.Errorf("limit 1: got %v, want %v", got, tc.want)
			}
		})
	}

	for _, f := range []model.EventFilter{
		{Status: "DONE"}, {Channel: "TWITTER"}, {ChannelStatus: "DONE"},
		{Q: strings.Repeat("q", 201)}, {Q: "a\x00"}, {Q: "\xff"},
	} {
		_, err := d.FindEvents(ctx, f)
		wantCode(t, err, model.EINVALID)
	}
}

func TestFindEventsCarriesChannels(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 5 {
		id := fmt.Sprintf("ev-%d", i)
		mustCreateEvent(t, d, id, id)
		if i%2 == 0 {
			insertDistribution(t, d, id, model.OverallInProgress,
				seedChannel{Channel: model.ChannelKakao, Status: model.StatusPending},
				seedChannel{Channel: model.ChannelRingoBiz, Status: model.StatusInProgress, Progress: i * 10})
		}
	}
	page, err := d.FindEvents(ctx, model.EventFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 5 {
		t.Fatalf("%d events", len(page.Events))
	}
	for _, e := range page.Events {
		n := int(e.ID[len(e.ID)-1] - '0')
		if n%2 != 0 {
			if e.Distribution != nil {
				t.Errorf("%s: unexpected distribution", e.ID)
			}
			continue
		}
		if e.Distribution == nil {
			t.Fatalf("%s: distribution missing", e.ID)
		}
		if got := channelsOf(e.Distribution); !slices.Equal(got, []string{"RINGOBIZ:IN_PROGRESS", "KAKAO:PENDING"}) {
			t.Errorf("%s channels = %v", e.ID, got)
		}
		if p := e.Distribution.Channel(model.ChannelRingoBiz).Progress; p != n*10 {
			t.Errorf("%s RINGOBIZ progress = %d, want %d", e.ID, p, n*10)
		}
	}
}

func TestCountEventsByStatus(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	counts, total, err := d.CountEventsByStatus(ctx)
	if err != nil || total != 0 || len(counts) != 0 {
		t.Fatalf("empty: %v %d %v", counts, total, err)
	}
	for i, st := range []model.OverallStatus{"", model.OverallCompleted, model.OverallCompleted, model.OverallFailed, model.OverallInProgress, ""} {
		id := fmt.Sprintf("ev-%d", i)
		mustCreateEvent(t, d, id, id)
		if st != "" {
			insertDistribution(t, d, id, st)
		}
	}
	counts, total, err = d.CountEventsByStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[model.OverallStatus]int{model.OverallCompleted: 2, model.OverallFailed: 1, model.OverallInProgress: 1}
	if total != 6 || len(counts) != len(want) {
		t.Fatalf("counts %v total %d, want %v total 6", counts, total, want)
	}
	for k, v := range want {
		if counts[k] != v {
			t.Errorf("%s = %d, want %d", k, counts[k], v)
		}
	}
}
