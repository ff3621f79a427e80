package handlers_test

// The pre-flight check (issue 14, points 3 and 5) through the whole service, INSTAGRAM on
// instagram-graph against the simulator over HTTP: the API start refuses a channel that cannot
// publish for the event (400 channel_unavailable naming it and its reason, nothing written), a
// used-up publishing quota answers 409 quota_exhausted with when it frees up, retry-failed skips
// and names a channel whose account needs reconnecting, and the start form shows the channel
// disabled with the reason.

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
	"github.com/marketing-platform/distribution/internal/simulator"
)

type preflightApp struct {
	*apiApp
	sim  *simulator.Server
	ring *secrets.Keyring
}

// newPreflightApp: INSTAGRAM speaks instagram-graph to the simulator; no worker runs jobs.
func newPreflightApp(t *testing.T) *preflightApp {
	t.Helper()
	sim := simulator.New(simulator.Config{})
	base, stop, err := sim.StartLocal(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	reg := channels.NewRegistry(map[model.Channel]channels.Endpoint{
		model.ChannelInstagram: {URL: base, Protocol: channels.ProtocolInstagramGraph, Version: "v23.0"},
	}, channels.Options{PollInterval: 2 * time.Millisecond, AllowInsecureLoopback: true})
	t.Cleanup(reg.Close)
	a := newAPIApp(t, 0, reg.Adapter)
	keys, _, err := a.app.Config.SecretsKeysOrDev()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := secrets.New(keys.Current, keys.Previous)
	if err != nil {
		t.Fatal(err)
	}
	return &preflightApp{apiApp: a, sim: sim, ring: ring}
}

// store creates store id; with a user, an INSTAGRAM account (extra: more credential JSON).
func (a *preflightApp) store(id, igUser, extra string) {
	a.t.Helper()
	wantStatus(a.t, a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": id, "name": "가게 " + id}), http.StatusCreated)
	if igUser == "" {
		return
	}
	tok := "tok-" + id
	a.sim.RegisterInstagramAccount(igUser, tok)
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"`+igUser+`","accessToken":"`+tok+`"`+extra+`}`))
	if err != nil {
		a.t.Fatal(err)
	}
	if _, err := a.db.SetChannelAccount(context.Background(), id, cred, a.ring, model.AuditEntry{Actor: "admin"}); err != nil {
		a.t.Fatal(err)
	}
}

func (a *preflightApp) igEvent(id, store, image string) {
	a.t.Helper()
	body := map[string]any{"id": id, "title": "봄 세일 " + id, "imageUrl": image}
	if store != "" {
		body["storeId"] = store
	}
	wantStatus(a.t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", body), http.StatusCreated)
}

func (a *preflightApp) startIG(id string, chans ...model.Channel) apiResp {
	return a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string]any{"channels": chans})
}

// refusedChannels returns the error's channels as channel → reason.
func refusedChannels(t *testing.T, body map[string]any) map[string]map[string]any {
	t.Helper()
	e, _ := body["error"].(map[string]any)
	list, _ := e["channels"].([]any)
	out := map[string]map[string]any{}
	for _, c := range list {
		m, _ := c.(map[string]any)
		ch, _ := m["channel"].(string)
		out[ch] = m
	}
	return out
}

func TestPreflightAPIStart(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.store("ok", "1784100", "")
	a.store("bare", "", "")
	a.store("dead", "1784101", "")
	a.exec(`UPDATE channel_accounts SET status = 'needs_reconnect', last_error = 'code 190' WHERE store_id = 'dead'`)
	a.store("old", "1784102", "")
	a.exec(`UPDATE channel_accounts SET expires_at = now() - interval '1 day' WHERE store_id = 'old'`) // expired since it was set

	cases := []struct {
		name, store, image, reason string
	}{
		{"no store", "", "https://img.example.com/a.jpg", model.PreflightNoStore},
		{"no account", "bare", "https://img.example.com/a.jpg", model.PreflightNoAccount},
		{"needs reconnect", "dead", "https://img.example.com/a.jpg", model.PreflightNeedsReconnect},
		{"expired", "old", "https://img.example.com/a.jpg", model.PreflightExpired},
		{"http image", "ok", "http://img.example.com/a.jpg", model.PreflightImageHTTPS},
		{"no image", "ok", "", model.PreflightImageHTTPS},
	}
	for i, tc := range cases {
		id := "pf" + string(rune('a'+i))
		a.igEvent(id, tc.store, tc.image)
		before := a.snapshot()
		body := wantError(t, a.startIG(id, model.ChannelUridongneTV, model.ChannelInstagram), http.StatusBadRequest, model.ECHANNELUNAVAILABLE, "INSTAGRAM")
		got := refusedChannels(t, body)
		if len(got) != 1 || got["INSTAGRAM"]["reason"] != tc.reason || got["INSTAGRAM"]["detail"] == "" {
			t.Errorf("%s: refused channels %v, want INSTAGRAM %s", tc.name, got, tc.reason)
		}
		if after := a.snapshot(); after != before {
			t.Errorf("%s: the refused start wrote: %s → %s", tc.name, before, after)
		}
		if n := a.count(`SELECT count(*) FROM channel_status WHERE event_id = $1`, id); n != 0 {
			t.Errorf("%s: %d channel rows", tc.name, n)
		}
	}

	// A usable account and an https image: accepted.
	a.igEvent("pfok", "ok", "https://img.example.com/a.jpg")
	wantStatus(t, a.startIG("pfok", model.ChannelInstagram, model.ChannelKakao), http.StatusAccepted)

	// The quota used up (50 posts in the last 24 h, the oldest 20 h ago): 409 quota_exhausted with
	// when the oldest leaves the window.
	a.store("busy", "1784103", "")
	oldest := time.Now().Add(-20 * time.Hour).Truncate(time.Second)
	seed := []time.Time{oldest}
	for i := 1; i < 50; i++ {
		seed = append(seed, oldest.Add(time.Duration(i)*time.Minute))
	}
	a.sim.SeedInstagramPosts("1784103", seed...)
	a.igEvent("pfquota", "busy", "https://img.example.com/a.jpg")
	before := a.snapshot()
	body := wantError(t, a.startIG("pfquota", model.ChannelInstagram), http.StatusConflict, model.EQUOTAEXHAUSTED, "50 of its 50")
	got := refusedChannels(t, body)["INSTAGRAM"]
	at, err := time.Parse(time.RFC3339, func() string { s, _ := got["availableAt"].(string); return s }())
	if got["reason"] != model.PreflightQuota || err != nil || !at.Equal(oldest.Add(24*time.Hour)) {
		t.Errorf("quota refusal %v (availableAt %v), want it free at %v", got, at, oldest.Add(24*time.Hour))
	}
	if after := a.snapshot(); after != before {
		t.Errorf("the refused start wrote: %s → %s", before, after)
	}
}

func TestPreflightRetryFailedSkipsNeedsReconnect(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.store("st", "1784200", "")
	a.igEvent("rf", "st", "https://img.example.com/a.jpg")
	wantStatus(t, a.startIG("rf", model.ChannelInstagram, model.ChannelNaver), http.StatusAccepted)
	a.fail("rf", model.ChannelInstagram)
	a.fail("rf", model.ChannelNaver)
	a.exec(`UPDATE channel_accounts SET status = 'needs_reconnect' WHERE store_id = 'st'`)

	r := a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/rf/distribution/retry-failed", nil)
	wantStatus(t, r, http.StatusAccepted)
	m := r.body(t)
	chans, _ := m["channels"].([]any)
	skipped, _ := m["skipped"].([]any)
	if len(chans) != 1 || chans[0] != "NAVER" || len(skipped) != 1 {
		t.Fatalf("retry-failed answered %s: want NAVER retried and INSTAGRAM skipped", r.raw)
	}
	if s, _ := skipped[0].(map[string]any); s["channel"] != "INSTAGRAM" || s["reason"] != model.PreflightNeedsReconnect {
		t.Errorf("skipped %v", skipped[0])
	}
	if n := a.count(`SELECT count(*) FROM channel_status WHERE event_id = 'rf' AND channel = 'INSTAGRAM' AND status = 'FAILED' AND coalesce(retries, 0) = 0`); n != 1 {
		t.Errorf("INSTAGRAM was retried")
	}
	// Only INSTAGRAM is left FAILED: the retry is refused, naming it.
	a.fail("rf", model.ChannelNaver)
	a.exec(`UPDATE channel_status SET status = 'SUCCESS' WHERE event_id = 'rf' AND channel = 'NAVER'`)
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/events/rf/distribution/retry-failed", nil), http.StatusBadRequest, model.ECHANNELUNAVAILABLE, "INSTAGRAM")
}

// A bulk retry leaves FAILED the channels whose store account cannot publish (here: to reconnect)
// and retries the others.
func TestPreflightBulkRetrySkipsNeedsReconnect(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.store("st", "1784300", "")
	a.igEvent("bk", "st", "https://img.example.com/a.jpg")
	wantStatus(t, a.startIG("bk", model.ChannelInstagram, model.ChannelNaver), http.StatusAccepted)
	a.fail("bk", model.ChannelInstagram)
	a.fail("bk", model.ChannelNaver)
	a.exec(`UPDATE channel_accounts SET status = 'needs_reconnect' WHERE store_id = 'st'`)

	pr := a.as(model.RoleStaff, http.MethodPost, "/api/v1/retries/preview", map[string]any{})
	wantStatus(t, pr, http.StatusOK)
	if n, _ := pr.body(t)["count"].(float64); n != 1 {
		t.Errorf("preview %s: want 1 (NAVER)", pr.raw)
	}
	r := a.as(model.RoleStaff, http.MethodPost, "/api/v1/retries", map[string]any{})
	wantStatus(t, r, http.StatusAccepted)
	if n, _ := r.body(t)["count"].(float64); n != 1 {
		t.Errorf("bulk retry %s: want 1 (NAVER)", r.raw)
	}
	if n := a.count(`SELECT count(*) FROM channel_status WHERE event_id = 'bk' AND status = 'FAILED'`); n != 1 {
		t.Errorf("%d FAILED, want INSTAGRAM left FAILED", n)
	}
	// Reconnected: the bulk retry takes it.
	a.exec(`UPDATE channel_accounts SET status = 'connected' WHERE store_id = 'st'`)
	r = a.as(model.RoleStaff, http.MethodPost, "/api/v1/retries", map[string]any{"channel": "INSTAGRAM"})
	wantStatus(t, r, http.StatusAccepted)
	if n, _ := r.body(t)["count"].(float64); n != 1 {
		t.Errorf("bulk retry after reconnecting %s: want 1", r.raw)
	}
}

func TestPreflightStartFormDisablesChannel(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.igEvent("pfpage", "", "https://img.example.com/a.jpg")
	send, _ := sessionClient(t, a.apiApp, "staff@example.com", model.RoleStaff)
	page := send(http.MethodGet, "/events/pfpage", "", nil)
	wantStatus(t, page, http.StatusOK)
	doc, err := goquery.NewDocumentFromReader(strings.NewReader(page.raw))
	if err != nil {
		t.Fatal(err)
	}
	form := doc.Find(`form[data-action="start-distribution"]`)
	ig := form.Find(`input[name="channels"][value="INSTAGRAM"]`)
	if _, disabled := ig.Attr("disabled"); !disabled || ig.Is("[checked]") {
		t.Errorf("INSTAGRAM checkbox not disabled and unchecked: %v", ig.Nodes)
	}
	note := ig.Closest("label").Find(`[data-preflight="INSTAGRAM"][data-reason="no_store"]`)
	if note.Length() != 1 || !strings.Contains(note.Text(), "has no store") {
		t.Errorf("no reason next to INSTAGRAM: %q", note.Text())
	}
	if n := form.Find(`input[name="channels"][disabled]`).Length(); n != 1 {
		t.Errorf("%d disabled channels, want only INSTAGRAM", n)
	}
}

// The edit form's store select (the pre-flight's no_store hint says to set the store): it lists
// the stores, sets the event's store (its name follows), and refuses hostile or unknown ids
// without a 500.
func TestPreflightEditFormStoreSelect(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	if _, err := a.db.CreateStore(t.Context(), model.Store{ID: "st-1", Name: "빵집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	a.event("ev1", "Spring sale")
	c := a.login("m@x.test", model.RoleMarketer)
	doc := c.get("/events/ev1").doc(t)
	if doc.Find(`form[data-action="edit-event"] select[name="storeId"] option[value="st-1"]`).Length() != 1 ||
		doc.Find(`form[data-action="edit-event"] select[name="storeId"] option[value=""][selected]`).Length() != 1 {
		t.Fatal("edit form lacks the store select with st-1 and none selected")
	}
	form := url.Values{"title": {"Spring sale"}, "storeName": {""}, "storeId": {"st-1"}}
	wantLocation(t, "set store", c.post("/events/ev1/edit", form, false), "/events/ev1")
	e, err := a.db.FindEventByID(t.Context(), "ev1")
	if err != nil || e.StoreID != "st-1" || e.StoreName != "빵집" {
		t.Fatalf("edited = %+v %v", e, err)
	}
	if c.get("/events/ev1").doc(t).Find(`select[name="storeId"] option[value="st-1"][selected]`).Length() != 1 {
		t.Error("the store is not selected after saving")
	}
	for _, bad := range []string{"nope", "a\x00b", "\xff\xfe", "a\r\nb", strings.Repeat("s", 5000)} {
		r := c.post("/events/ev1/edit", url.Values{"title": {"Spring sale"}, "storeId": {bad}}, false)
		if r.status != http.StatusBadRequest {
			t.Errorf("storeId %q: status %d, want 400", bad, r.status)
		}
	}
	if e, _ := a.db.FindEventByID(t.Context(), "ev1"); e.StoreID != "st-1" {
		t.Errorf("a refused edit changed the store: %q", e.StoreID)
	}
}

// The page's "retry failed" names the channels the pre-flight check left FAILED in its flash.
func TestPreflightRetryFailedPageNamesSkipped(t *testing.T) {
	t.Parallel()
	a := newPreflightApp(t)
	a.store("st", "1784400", "")
	a.igEvent("rp", "st", "https://img.example.com/a.jpg")
	wantStatus(t, a.startIG("rp", model.ChannelInstagram, model.ChannelNaver), http.StatusAccepted)
	a.fail("rp", model.ChannelInstagram)
	a.fail("rp", model.ChannelNaver)
	a.exec(`UPDATE channel_accounts SET status = 'needs_reconnect' WHERE store_id = 'st'`)
	send, csrf := sessionClient(t, a.apiApp, "staff@example.com", model.RoleStaff)
	r := send(http.MethodPost, "/events/rp/retry-failed", url.Values{"_csrf": {csrf}}.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("retry-failed: %d %.300s", r.status, r.raw)
	}
	page := send(http.MethodGet, "/events/rp", "", nil)
	if !strings.Contains(page.raw, "Retrying 1 failed channel.") || !strings.Contains(page.raw, "cannot publish now (store account, image or quota): Instagram.") {
		t.Errorf("flash does not name the skipped channel: %.2000s", page.raw)
	}
}

// The create form offers the same store select as the edit form: the new event belongs to the
// store (its name filled from it); an unknown or hostile store id re-renders the form (400) and
// creates nothing.
func TestCreateFormStoreSelect(t *testing.T) {
	t.Parallel()
	a := newUIApp(t, false)
	c := a.login("m@x.test", model.RoleMarketer)
	if n := c.get("/").doc(t).Find(`form[data-action="create-event"] select[name="storeId"]`).Length(); n != 0 {
		t.Errorf("a store select with no store to pick: %d", n)
	}
	if _, err := a.db.CreateStore(t.Context(), model.Store{ID: "st-1", Name: "빵집"}, model.AuditEntry{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}
	doc := c.get("/").doc(t)
	if doc.Find(`form[data-action="create-event"] select[name="storeId"] option[value="st-1"]`).Length() != 1 {
		t.Fatal("the create form lacks the store select with st-1")
	}
	count := func() int {
		var n int
		if err := a.db.Pool.QueryRow(t.Context(), `SELECT count(*) FROM events`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, bad := range []string{"nope", "a\x00b", "\xff\xfe", "a\r\nb", strings.Repeat("s", 5000)} {
		r := c.post("/events", url.Values{"title": {"Spring sale"}, "storeId": {bad}}, false)
		if r.status != http.StatusBadRequest || r.doc(t).Find(`#event-form-error`).Length() != 1 {
			t.Errorf("storeId %q: status %d, want 400 with the form's error", bad, r.status)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("refused creates wrote %d events", n)
	}
	r := c.post("/events", url.Values{"title": {"Spring sale"}, "storeName": {""}, "storeId": {"st-1"}}, false)
	if r.status != http.StatusSeeOther {
		t.Fatalf("create with a store: %d", r.status)
	}
	var storeID, storeName string
	if err := a.db.Pool.QueryRow(t.Context(), `SELECT store_id, store_name FROM events`).Scan(&storeID, &storeName); err != nil {
		t.Fatal(err)
	}
	if storeID != "st-1" || storeName != "빵집" {
		t.Errorf("created event: store %q, name %q; want st-1, 빵집", storeID, storeName)
	}
}
