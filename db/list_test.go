package db_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func listIDs(t *testing.T, d *db.DB, f model.EventFilter) []string {
	t.Helper()
	page, err := d.FindEvents(context.Background(), f)
	if err != nil {
		t.Fatalf("FindEvents(%+v): %v", f, err)
	}
	ids := make([]string, 0, len(page.Events))
	for _, e := range page.Events {
		ids = append(ids, e.ID)
	}
	return ids
}

// The search box finds what people paste: an event id in any case (by prefix), a store name, a
// part of the title, a channel id in any case, a post URL as the platform gives it (scheme,
// www., trailing slash and share parameters aside) or one with the post's id inside it.
func TestFindEventsSearchForms(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for _, e := range []model.Event{
		{ID: "Spring-Sale-2025", Title: "봄 세일", StoreName: "강남점"},
		{ID: "ig-event", Title: "Instagram launch", StoreName: "Hongdae Store"},
		{ID: "nv-event", Title: "Naver post", StoreName: "Busan 100%_off"},
		{ID: "other", Title: "Unrelated", StoreName: ""},
	} {
		if _, err := d.CreateEvent(ctx, e, "test"); err != nil {
			t.Fatal(err)
		}
	}
	ig := insertDistribution(t, d, "ig-event", model.OverallCompleted,
		seedChannel{Channel: model.ChannelInstagram, Status: model.StatusSuccess, Progress: 100, PostID: "3612345678901234567"},
		seedChannel{Channel: model.ChannelKakao, Status: model.StatusSuccess, Progress: 100, MessageID: "KM12345678901234"})
	nv := insertDistribution(t, d, "nv-event", model.OverallCompleted,
		seedChannel{Channel: model.ChannelNaver, Status: model.StatusSuccess, Progress: 100, PostID: "223412345678"},
		seedChannel{Channel: model.ChannelGiniTV, Status: model.StatusSuccess, Progress: 100, DistributionID: "GTV-AB12CD34"})
	for _, x := range []struct {
		dist int64
		ch   model.Channel
		url  string
	}{
		{ig, model.ChannelInstagram, "https://www.instagram.com/p/DAbC12_xYz9/"},
		{nv, model.ChannelNaver, "https://blog.naver.com/shop_blog/223412345678"},
	} {
		if _, err := d.Pool.Exec(ctx, `UPDATE channel_status SET post_url = $3 WHERE distribution_status_id = $1 AND channel = $2`, x.dist, string(x.ch), x.url); err != nil {
			t.Fatal(err)
		}
	}

	for q, want := range map[string][]string{
		"spring-sale":         {"Spring-Sale-2025"}, // id prefix, other case
		"SPRING-SALE-2025":    {"Spring-Sale-2025"},
		"IG-EV":               {"ig-event"},
		"강남":                  {"Spring-Sale-2025"}, // store name
		"hongdae store":       {"ig-event"},
		"100%_":               {"nv-event"}, // LIKE wildcards are literal
		"100%x":               {},
		"instagram LAUNCH":    {"ig-event"}, // title
		"km12345678901234":    {"ig-event"}, // message id, other case
		"gtv-ab12cd34":        {"nv-event"}, // distribution id, other case
		"3612345678901234567": {"ig-event"}, // post id
		"https://www.instagram.com/p/DAbC12_xYz9/":                                    {"ig-event"}, // the URL as stored
		"https://www.instagram.com/p/DAbC12_xYz9/?igsh=MTc4MmM1YmI2Ng==":              {"ig-event"}, // share link
		"http://instagram.com/p/DAbC12_xYz9":                                          {"ig-event"}, // http, no www., no slash
		"instagram.com/p/DAbC12_xYz9/":                                                {"ig-event"}, // no scheme
		"https://m.blog.naver.com/PostView.naver?blogId=shop_blog&logNo=223412345678": {"nv-event"}, // the id inside
		"https://blog.naver.com/shop_blog/223412345678":                               {"nv-event"},
		"https://www.instagram.com/p/SomethingElse/":                                  {},
		"nothing-like-it": {},
	} {
		got := listIDs(t, d, model.EventFilter{Q: q})
		if !slices.Equal(got, want) {
			t.Errorf("q %q: %v, want %v", q, got, want)
		}
	}

	// Hostile text is refused or matched literally, never an error of the database.
	for _, q := range []string{"a\x00b", "line\nbreak", "\xff\xfe", strings.Repeat("가", 201)} {
		if _, err := d.FindEvents(ctx, model.EventFilter{Q: q}); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("q %q: error %v, want EINVALID", q, err)
		}
	}
	if got := listIDs(t, d, model.EventFilter{Q: strings.Repeat("가", 200)}); len(got) != 0 {
		t.Errorf("200 characters: %v", got)
	}
	if got := listIDs(t, d, model.EventFilter{Q: "https://" + strings.Repeat("a/", 90)}); len(got) != 0 {
		t.Errorf("long URL: %v", got)
	}
}

// NOT_STARTED lists the events without a distribution; the others keep working.
func TestFindEventsNotStarted(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	mustCreateEvent(t, d, "a", "A")
	mustCreateEvent(t, d, "b", "B")
	mustCreateEvent(t, d, "c", "C")
	insertDistribution(t, d, "b", model.OverallInProgress, seedChannel{Channel: model.ChannelKakao})
	if got := listIDs(t, d, model.EventFilter{Status: model.OverallNotStarted}); !slices.Equal(got, []string{"c", "a"}) {
		t.Errorf("not started: %v", got)
	}
	if got := listIDs(t, d, model.EventFilter{Status: model.OverallInProgress}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("in progress: %v", got)
	}
	if got := listIDs(t, d, model.EventFilter{Status: model.OverallNotStarted, Q: "a"}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("not started, q a: %v", got)
	}
	n, more, err := d.CountEvents(context.Background(), model.EventFilter{Status: model.OverallNotStarted})
	if err != nil || n != 2 || more {
		t.Errorf("count not started = %d, %v, %v", n, more, err)
	}
	if _, err := d.FindEvents(context.Background(), model.EventFilter{Status: "BOGUS"}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("bogus status: %v", err)
	}
}

// Pages go forward with Cursor and back with Before: 45 events in pages of 20 are 20, 20, 5, and
// going back from the last returns the same pages; the first page has no PrevCursor.
func TestFindEventsPrevNext(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	for i := range 45 {
		mustCreateEvent(t, d, "p"+strconv.Itoa(i), "Event "+strconv.Itoa(i))
	}
	// Creation times are distinct (the database clock moves on between inserts) but make them so.
	if _, err := d.Pool.Exec(ctx, `UPDATE events SET created_at = now() - (substr(id, 2)::int * interval '1 minute')`); err != nil {
		t.Fatal(err)
	}
	read := func(f model.EventFilter) model.EventPage {
		t.Helper()
		f.Limit = 20
		p, err := d.FindEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	first := read(model.EventFilter{})
	if len(first.Events) != 20 || first.PrevCursor != "" || first.NextCursor == "" || first.Events[0].ID != "p0" {
		t.Fatalf("first page: %d events, prev %q next %q", len(first.Events), first.PrevCursor, first.NextCursor)
	}
	second := read(model.EventFilter{Cursor: first.NextCursor})
	third := read(model.EventFilter{Cursor: second.NextCursor})
	if len(second.Events) != 20 || second.Events[0].ID != "p20" || len(third.Events) != 5 || third.NextCursor != "" || third.PrevCursor == "" {
		t.Fatalf("second %d from %s, third %d next %q", len(second.Events), second.Events[0].ID, len(third.Events), third.NextCursor)
	}
	back := read(model.EventFilter{Before: third.PrevCursor})
	if len(back.Events) != 20 || back.Events[0].ID != "p20" || back.Events[19].ID != "p39" || back.NextCursor != second.NextCursor || back.PrevCursor == "" {
		t.Fatalf("back to second: %d events from %s, next %q (want %q)", len(back.Events), back.Events[0].ID, back.NextCursor, second.NextCursor)
	}
	top := read(model.EventFilter{Before: back.PrevCursor})
	if len(top.Events) != 20 || top.Events[0].ID != "p0" || top.PrevCursor != "" || top.NextCursor != first.NextCursor {
		t.Fatalf("back to first: %d events from %s, prev %q", len(top.Events), top.Events[0].ID, top.PrevCursor)
	}
	// Going back from the 5th row: less than a page before it, so the first page whole.
	near := read(model.EventFilter{Before: db.EncodeCursorForTest(first.Events[4].CreatedAt, first.Events[4].ID)})
	if len(near.Events) != 20 || near.Events[0].ID != "p0" || near.PrevCursor != "" {
		t.Fatalf("back from row 5: %d events from %s", len(near.Events), near.Events[0].ID)
	}
	if _, err := d.FindEvents(ctx, model.EventFilter{Before: "!!"}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("bad before: %v", err)
	}
	if db.ValidCursor("!!") || !db.ValidCursor(first.NextCursor) {
		t.Error("ValidCursor")
	}
	n, more, err := d.CountEvents(ctx, model.EventFilter{Q: "Event 1"})
	if err != nil || n != 11 || more { // Event 1, 10..19
		t.Errorf("count q: %d %v %v", n, more, err)
	}
}
