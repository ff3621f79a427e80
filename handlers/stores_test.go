package handlers_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/secrets"
)

const storesTestToken = "IGQVJ-handler-test-secret-token"

// POST/GET /api/v1/stores: managers create (409 on a taken id, 400 on hostile text, nothing
// written), any role reads, each store with its accounts' public fields and never credentials,
// in answers or audit details.
func TestAPIStores(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	r := a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": "gangnam-1", "name": " 행복베이커리 강남점 "})
	wantStatus(t, r, http.StatusCreated)
	if m := r.body(t); m["id"] != "gangnam-1" || m["name"] != "행복베이커리 강남점" || m["createdBy"] != "token:manager-bot" {
		t.Errorf("created store = %v", m)
	}
	if loc := r.header.Get("Location"); loc != "/api/v1/stores/gangnam-1" {
		t.Errorf("Location %q", loc)
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'store.create' AND actor = 'token:manager-bot' AND ip = '192.0.2.7'`) != 1 {
		t.Error("store creation is not audited")
	}
	wantError(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": "gangnam-1", "name": "again"}), http.StatusConflict, "conflict")
	wantError(t, a.as(model.RoleStaff, http.MethodPost, "/api/v1/stores", map[string]any{"id": "s2", "name": "x"}), http.StatusForbidden, "")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/stores", map[string]any{"id": "s2", "name": "x"}), http.StatusForbidden, "")

	before := a.snapshot() + a.storeCount()
	for name, body := range map[string]string{
		"NUL in name":          `{"id": "s2", "name": "a\u0000b"}`,
		"line break in name":   `{"id": "s2", "name": "a\nb"}`,
		"CR in name":           `{"id": "s2", "name": "a\rb"}`,
		"line break in id":     `{"id": "s\n2", "name": "x"}`,
		"NUL in id":            `{"id": "s\u00002", "name": "x"}`,
		"id too long":          `{"id": "` + strings.Repeat("a", 37) + `", "name": "x"}`,
		"name too long":        `{"id": "s2", "name": "` + strings.Repeat("가", 201) + `"}`,
		"invalid UTF-8":        "{\"id\": \"s2\", \"name\": \"a\xffb\"}",
		"empty name":           `{"id": "s2", "name": "  "}`,
		"no id":                `{"name": "x"}`,
		"path in id":           `{"id": "../x", "name": "x"}`,
		"unknown field":        `{"id": "s2", "name": "x", "token": "y"}`,
		"wrong type":           `{"id": 5, "name": "x"}`,
		"duplicate key":        `{"id": "s2", "id": "s3", "name": "x"}`,
		"not an object at all": `[]`,
	} {
		r := a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %.200s", name, r.status, r.raw)
		}
	}
	if after := a.snapshot() + a.storeCount(); after != before {
		t.Errorf("refused stores wrote: %s → %s", before, after)
	}

	// An account set through the db (as the CLI does) shows its public fields only.
	ring, err := secrets.New(make32(7), nil)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := model.ParseCredentials(model.ChannelInstagram, []byte(`{"igUserId":"17841400000000001","accessToken":"`+storesTestToken+`","expiresAt":"2099-01-01T00:00:00Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.db.SetChannelAccount(context.Background(), "gangnam-1", cred, ring, model.AuditEntry{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	for _, role := range []model.Role{model.RoleMarketer, model.RoleStaff, model.RoleManager} {
		r := a.as(role, http.MethodGet, "/api/v1/stores", nil)
		wantStatus(t, r, http.StatusOK)
		if strings.Contains(r.raw, storesTestToken) || strings.Contains(r.raw, "accessToken") || strings.Contains(r.raw, "credentials") {
			t.Fatalf("the store list shows credentials: %s", r.raw)
		}
		stores, _ := r.body(t)["stores"].([]any)
		if len(stores) != 1 {
			t.Fatalf("stores = %s", r.raw)
		}
		accounts, _ := stores[0].(map[string]any)["accounts"].([]any)
		if len(accounts) != 1 {
			t.Fatalf("accounts = %s", r.raw)
		}
		acc := accounts[0].(map[string]any)
		if acc["channel"] != "INSTAGRAM" || acc["accountRef"] != "17841400000000001" || acc["status"] != "connected" ||
			acc["expiresAt"] != "2099-01-01T00:00:00Z" || acc["connectedBy"] != "cli" || acc["lastError"] != "" || acc["connectedAt"] == nil {
			t.Errorf("account = %v", acc)
		}
	}
	r = a.as(model.RoleMarketer, http.MethodGet, "/api/v1/stores/gangnam-1", nil)
	wantStatus(t, r, http.StatusOK)
	if strings.Contains(r.raw, storesTestToken) || r.body(t)["name"] != "행복베이커리 강남점" {
		t.Errorf("get store = %s", r.raw)
	}
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/stores/nope", nil), http.StatusNotFound, "not_found")
	wantError(t, a.as(model.RoleMarketer, http.MethodGet, "/api/v1/stores/..%2Fx", nil), http.StatusBadRequest, "invalid")
	if n := a.count(`SELECT count(*) FROM audit_log WHERE detail LIKE '%' || $1 || '%'`, storesTestToken); n != 0 {
		t.Errorf("%d audit entries hold the token", n)
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'account.set' AND channel = 'INSTAGRAM' AND detail LIKE '%17841400000000001%'`) != 1 {
		t.Error("setting an account is not audited")
	}
}

// Events take an optional storeId on create and PATCH: storeName comes from the store, an
// unknown store is 400 naming it, "" detaches, and the event JSON carries storeId (null: none).
func TestAPIEventStore(t *testing.T) {
	t.Parallel()
	a := newAPIApp(t, 0, nil)
	wantStatus(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": "s1", "name": "Brew & Co. 성수"}), http.StatusCreated)
	wantStatus(t, a.as(model.RoleManager, http.MethodPost, "/api/v1/stores", map[string]any{"id": "s2", "name": "카페 온도 판교"}), http.StatusCreated)

	r := a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"id": "ev1", "title": "Opening", "storeId": "s1", "storeName": "ignored"})
	wantStatus(t, r, http.StatusCreated)
	if m := r.body(t); m["storeId"] != "s1" || m["storeName"] != "Brew & Co. 성수" {
		t.Errorf("event with a store = %v", m)
	}
	r = a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"id": "ev2", "title": "No store", "storeName": "Free text"})
	wantStatus(t, r, http.StatusCreated)
	if m := r.body(t); m["storeId"] != nil || m["storeName"] != "Free text" {
		t.Errorf("event without a store = %v", m)
	} else if _, present := m["storeId"]; !present {
		t.Error("storeId is absent; want null")
	}
	before := a.snapshot()
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"title": "x", "storeId": "nope"}), http.StatusBadRequest, "invalid", "nope")
	wantError(t, a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events", map[string]any{"title": "x", "storeId": "a\nb"}), http.StatusBadRequest, "invalid", "storeId")
	wantError(t, a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev2", map[string]any{"storeId": "nope"}), http.StatusBadRequest, "invalid", "nope")
	if after := a.snapshot(); after != before {
		t.Errorf("refused store ids wrote: %s → %s", before, after)
	}

	r = a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev2", map[string]any{"storeId": "s2"})
	wantStatus(t, r, http.StatusOK)
	if m := r.body(t); m["storeId"] != "s2" || m["storeName"] != "카페 온도 판교" {
		t.Errorf("moved event = %v", m)
	}
	if a.count(`SELECT count(*) FROM audit_log WHERE action = 'event.update' AND event_id = 'ev2' AND detail = 'changed: storeName, storeId'`) != 1 {
		t.Error("the move is not audited with its fields")
	}
	if got := a.as(model.RoleMarketer, http.MethodGet, "/api/v1/events/ev2", nil).body(t); got["storeId"] != "s2" {
		t.Errorf("read back = %v", got)
	}
	r = a.as(model.RoleMarketer, http.MethodPatch, "/api/v1/events/ev2", map[string]any{"storeId": ""})
	wantStatus(t, r, http.StatusOK)
	if m := r.body(t); m["storeId"] != nil || m["storeName"] != "카페 온도 판교" {
		t.Errorf("detached event = %v", m)
	}
	// A copy keeps the store; a store that events use cannot be deleted under them.
	r = a.as(model.RoleMarketer, http.MethodPost, "/api/v1/events/ev1/duplicate", nil)
	wantStatus(t, r, http.StatusCreated)
	if r.body(t)["storeId"] != "s1" {
		t.Errorf("copy = %s", r.raw)
	}
	if _, err := a.db.Pool.Exec(context.Background(), `DELETE FROM stores WHERE id = 's1'`); err == nil {
		t.Error("a store with events was deleted")
	}
}

func (a *apiApp) storeCount() string {
	return " stores:" + strconv.Itoa(a.count(`SELECT count(*) FROM stores`))
}

func make32(seed byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = seed + byte(i)
	}
	return k
}
