package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/config"
	"github.com/marketing-platform/distribution/internal/model"
)

// The events list page (issue 15, items 1, 6, 7, 13 and 14).

// Opening "+ New event" never squeezes the filter bar: at 1024, 1440 and 1920 px with the panel
// open, the filter card keeps one row of fields, its buttons one line each, nothing overflows the
// card, and the search box keeps a usable width.
func TestUXListCreatePanelKeepsFilters(t *testing.T) {
	a := newApp(t)
	a.event("Alpha bakery opening")
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	for _, lang := range []string{"ko", "en"} {
		m.do("language "+lang, chromedp.Evaluate[chromedp.Void](`document.cookie = "lang=`+lang+`; path=/"`))
		for _, w := range []int{1024, 1440, 1920} {
			m.do(fmt.Sprintf("viewport %d", w), chromedp.EmulateViewport(int64(w), 900))
			m.open("/")
			m.do("open the create panel",
				chromedp.Click(chromedp.CSS(`details summary`)),
				chromedp.WaitVisible(chromedp.CSS(`form[data-action="create-event"] input[name="title"]`)),
			)
			problems := eval[[]string](m, `(() => {
				const out = [];
				const form = document.querySelector('form[data-action="filter"]');
				const fr = form.getBoundingClientRect();
				if (form.scrollWidth > form.clientWidth + 1) out.push('filter card scrolls: ' + form.scrollWidth + ' > ' + form.clientWidth);
				if (fr.height > 160) out.push('filter card is ' + Math.round(fr.height) + ' px tall');
				const q = form.querySelector('input[name="q"]').getBoundingClientRect();
				if (q.width < 180) out.push('search box ' + Math.round(q.width) + ' px wide');
				for (const el of form.querySelectorAll('button, a')) {
					const r = el.getBoundingClientRect();
					const line = parseFloat(getComputedStyle(el).lineHeight) || 20;
					const name = el.textContent.trim();
					if (r.height > line * 1.5 + 14) out.push(name + ' wraps: ' + Math.round(r.height) + ' px tall');
					if (r.right > fr.right + 0.5 || r.left < fr.left - 0.5 || r.bottom > fr.bottom + 0.5) out.push(name + ' overflows the card');
					if (el.scrollWidth > el.clientWidth + 1) out.push(name + ' text overflows');
				}
				const create = document.querySelector('form[data-action="create-event"]').getBoundingClientRect();
				if (create.top < fr.bottom - 0.5 && create.left < fr.right && create.right > fr.left) out.push('create form overlaps the filters');
				return out;
			})()`)
			if len(problems) > 0 {
				t.Errorf("%s %d px, create panel open: %s", lang, w, strings.Join(problems, "; "))
				m.screenshot(fmt.Sprintf("ux-list-create-%s-%d.png", lang, w))
			}
		}
	}
}

// The status chips include "not started" (a filter value too), add up to "all", and follow a
// run live: a distribution started elsewhere shows in the "in progress" count without a reload.
func TestUXListNotStartedChipAndLiveCounts(t *testing.T) {
	a := newAppWith(t, func(c *config.Config) { c.SimulatorStep = time.Second }) // a run of ~5 s
	var ids []string
	for i := range 3 {
		ids = append(ids, a.event("Event "+strconv.Itoa(i)))
	}
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.waitLive()
	chip := func(s string) string {
		return `+(document.querySelector('#status-counts [data-count-status="` + s + `"] [data-count]')?.textContent.replace(/[^0-9]/g, '') ?? -1)`
	}
	sum := `(` + strings.Join([]string{chip("NOT_STARTED"), chip("IN_PROGRESS"), chip("COMPLETED"), chip("PARTIAL_SUCCESS"), chip("FAILED")}, " + ") + `)`
	if n := eval[int](m, chip("NOT_STARTED")); n != 3 {
		t.Fatalf("not started chip %d, want 3", n)
	}
	if s, all := eval[int](m, sum), eval[int](m, chip("")); s != all || all != 3 {
		t.Errorf("chips add up to %d, all %d", s, all)
	}
	m.markNoReload()
	if _, err := a.eng.StartDistribution(context.Background(), ids[0], []model.Channel{model.ChannelKakao, model.ChannelNaver}, "e2e"); err != nil {
		t.Fatal(err)
	}
	m.waitJS("the in-progress chip counts the run", chip("IN_PROGRESS")+` >= 1 && `+chip("NOT_STARTED")+` === 2 && `+sum+` === `+chip(""), 8*time.Second)
	m.wantNoReload()

	m.open("/?status=NOT_STARTED")
	if n := count(m, `tr[data-event-id]`); n != 2 || count(m, `tr[data-event-id="`+ids[0]+`"]`) != 0 {
		t.Errorf("not started filter: %d rows", n)
	}
	if count(m, `#status-counts [data-count-status="NOT_STARTED"][aria-current="page"]`) != 1 ||
		count(m, `select[name="status"] option[value="NOT_STARTED"][selected]`) != 1 {
		t.Error("the not started filter is not shown as chosen")
	}
}

// A bad filter value is explained next to the filters; the rest of the page works (the events are
// listed) and the live stream connects.
func TestUXListBadFilterKeepsPageLive(t *testing.T) {
	a := newApp(t)
	for i := range 3 {
		a.event("Event " + strconv.Itoa(i))
	}
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	for _, path := range []string{"/?status=bogus", "/?status=bogus&channel=TIKTOK&q=a%00b", "/?cursor=!!&size=7"} {
		m.open(path) // waits for the stream to be connected
		if n := count(m, `tr[data-event-id]`); n != 3 {
			t.Errorf("%s: %d rows, want the 3 events", path, n)
		}
		msg := eval[string](m, `document.querySelector('form[data-action="filter"] #filter-error[role="alert"]')?.textContent ?? ''`)
		if msg == "" {
			t.Errorf("%s: no error next to the filters", path)
		}
		for _, name := range strings.Split(map[string]string{"/?status=bogus": "status", "/?status=bogus&channel=TIKTOK&q=a%00b": "q,status,channel", "/?cursor=!!&size=7": "cursor,size"}[path], ",") {
			if name != "" && !strings.Contains(msg, "("+name+")") {
				t.Errorf("%s: the error %q does not name %s", path, msg, name)
			}
		}
		if state := eval[string](m, `document.querySelector('[data-live-state]').dataset.liveState`); state != "connected" {
			t.Errorf("%s: live state %s", path, state)
		}
	}
	// The stream carries changes (a failing one would flip to reconnecting and miss them).
	m.open("/?status=bogus")
	id := eval[string](m, `document.querySelector('tr[data-event-id]').dataset.eventId`)
	if _, err := a.eng.StartDistribution(context.Background(), id, []model.Channel{model.ChannelKakao}, "e2e"); err != nil {
		t.Fatal(err)
	}
	m.waitJS("the started row changes live", `document.querySelector('tr[data-event-id="`+id+`"] [data-overall]')?.dataset.overall !== ''`, 10*time.Second)
	if state := eval[string](m, `document.querySelector('[data-live-state]').dataset.liveState`); state != "connected" {
		t.Errorf("live state %s after a change", state)
	}
}

// A post URL pasted into the search box, as the platform shares it, finds its event.
func TestUXListSearchPastedPostURL(t *testing.T) {
	a := newApp(t)
	a.event("Other event")
	id := a.event("Instagram launch")
	a.event("Third event")
	ctx := context.Background()
	if _, err := a.eng.StartDistribution(ctx, id, []model.Channel{model.ChannelInstagram}, "e2e"); err != nil {
		t.Fatal(err)
	}
	var postURL string
	deadline := time.Now().Add(30 * time.Second)
	for postURL == "" {
		if time.Now().After(deadline) {
			t.Fatal("the Instagram post never got its URL")
		}
		e, err := a.db.FindEventByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if d := e.Distribution; d != nil {
			if c := d.Channel(model.ChannelInstagram); c != nil && c.PostURL != nil {
				postURL = *c.PostURL
			}
		}
		if postURL == "" {
			if _, err := a.db.FindAttempts(ctx, id); err != nil { // a round trip, not a sleep
				t.Fatal(err)
			}
		}
	}
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.waitLive()
	// As copied from the app: http, no www., a share parameter, surrounding spaces.
	pasted := " " + strings.Replace(strings.Replace(postURL, "https://", "http://", 1), "www.", "", 1) + "?igsh=MTc4MmM1YmI2Ng== "
	m.do("paste the post URL",
		chromedp.SetValue(chromedp.CSS(`form[data-action="filter"] input[name="q"]`), pasted),
		chromedp.Submit(chromedp.CSS(`form[data-action="filter"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-action="filter"] input[name="q"][value*="igsh"]`)),
	)
	if n, found := count(m, `tr[data-event-id]`), count(m, `tr[data-event-id="`+id+`"]`); n != 1 || found != 1 {
		t.Errorf("pasted %q: %d rows, the event's row %d", pasted, n, found)
	}
	if total := eval[string](m, `document.querySelector('[data-list-total]')?.dataset.listTotal ?? ''`); total != "1" {
		t.Errorf("total %q, want 1", total)
	}
	m.open("/?q=" + strings.ToUpper(id[:8]))
	if count(m, `tr[data-event-id="`+id+`"]`) != 1 {
		t.Errorf("the event id in capitals does not find it")
	}
}

// Previous and next move through the pages (links with rel="prev" / rel="next"), the total is
// shown, and the page size is a choice kept across pages.
func TestUXListPagination(t *testing.T) {
	a := newApp(t)
	for i := range 45 {
		a.event("Event " + strconv.Itoa(i))
	}
	b := newBrowser(t)
	m := b.user(a, "marketer@example.com", model.RoleMarketer)
	m.waitLive()
	m.do("choose 20 a page",
		chromedp.SetValue(chromedp.CSS(`form[data-action="page-size"] select[name="size"]`), "20"),
		chromedp.Submit(chromedp.CSS(`form[data-action="page-size"]`)),
		chromedp.WaitReady(chromedp.CSS(`form[data-action="page-size"] option[value="20"][selected]`)),
	)
	m.waitLive()
	rows := func() []string {
		return eval[[]string](m, `[...document.querySelectorAll('tr[data-event-id]')].map(r => r.dataset.eventId)`)
	}
	total := func() string {
		return eval[string](m, `document.querySelector('[data-list-total]')?.dataset.listTotal ?? ''`)
	}
	click := func(rel string) { // follows the link as a click would (a click races the poll with the navigation)
		t.Helper()
		href := eval[string](m, `document.querySelector('#list-pagination a[rel="`+rel+`"]')?.getAttribute('href') ?? ''`)
		if !strings.HasPrefix(href, "/?") {
			t.Fatalf("%s link %q", rel, href)
		}
		m.open(href)
	}
	var pages [][]string
	for i := range 3 {
		r := rows()
		pages = append(pages, r)
		if want := []int{20, 20, 5}[i]; len(r) != want {
			t.Fatalf("page %d: %d rows, want %d", i+1, len(r), want)
		}
		if total() != "45" || !strings.Contains(eval[string](m, `document.querySelector('[data-list-total]').textContent`), "45") {
			t.Errorf("page %d: total %q", i+1, total())
		}
		if (count(m, `a[rel="prev"][data-action="prev-page"]`) == 1) != (i > 0) {
			t.Errorf("page %d: prev link %d", i+1, count(m, `a[rel="prev"]`))
		}
		if (count(m, `a[rel="next"][data-action="next-page"]`) == 1) != (i < 2) {
			t.Errorf("page %d: next link %d", i+1, count(m, `a[rel="next"]`))
		}
		if i < 2 {
			click("next")
		}
	}
	seen := map[string]bool{}
	for _, p := range pages {
		for _, id := range p {
			seen[id] = true
		}
	}
	if len(seen) != 45 {
		t.Errorf("3 pages showed %d distinct events", len(seen))
	}
	click("prev")
	if r := rows(); strings.Join(r, ",") != strings.Join(pages[1], ",") {
		t.Errorf("back to page 2: %v, want %v", r, pages[1])
	}
	click("prev")
	if r := rows(); strings.Join(r, ",") != strings.Join(pages[0], ",") || count(m, `a[rel="prev"]`) != 0 {
		t.Errorf("back to page 1: %v (prev links %d)", r, count(m, `a[rel="prev"]`))
	}
	if !strings.Contains(eval[string](m, `location.search`), "size=20") {
		t.Error("the page size is not kept")
	}
}
