package views_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

// The tokens page names each token's status (active, expired, revoked, refused because of its
// owner), shows who created it and when it expires, and offers a copy button next to a token
// just created; the token is in the input's value only, never in an attribute Datastar reads.
func TestTokensPageStatusAndCopy(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	later, earlier := now.Add(30*24*time.Hour), now.Add(-time.Hour)
	secret := `dst_abc'"</script><b>x`
	rows := []views.TokenRow{
		{ID: 1, Name: "feed", Role: model.RoleStaff, CreatedBy: "boss@example.com", CreatedAt: now, ExpiresAt: &later, Owner: "service:feed"},
		{ID: 2, Name: "old", Role: model.RoleMarketer, CreatedBy: "boss@example.com", CreatedAt: now, ExpiresAt: &earlier, Expired: true},
		{ID: 3, Name: "gone", Role: model.RoleMarketer, CreatedBy: "other@example.com", CreatedAt: now, RevokedAt: &earlier},
		{ID: 4, Name: "orphan", Role: model.RoleManager, CreatedBy: "boss@example.com", CreatedAt: now, OwnerBlocked: true},
	}
	for _, lang := range []string{"en", "ko"} {
		var b bytes.Buffer
		p := views.Page{Lang: lang, CSRF: "tok", Principal: &model.Principal{Name: "boss@example.com", Role: model.RoleManager}}
		if err := views.Tokens(p, views.TokensView{Tokens: rows, NewToken: secret, NewTokenName: "feed"}).Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
		d := doc(t, b.String())
		for id, want := range map[string]string{"1": "active", "2": "expired", "3": "revoked", "4": "blocked"} {
			if got, _ := d.Find(`tr[data-token-id="` + id + `"] [data-token-status]`).Attr("data-token-status"); got != want {
				t.Errorf("%s: token %s status %q, want %q", lang, id, got, want)
			}
		}
		active := d.Find(`tr[data-token-id="1"] [data-token-status="active"]`).Text()
		if want := map[string]string{"en": "Active", "ko": "사용 중"}[lang]; !bytes.Contains([]byte(active), []byte(want)) {
			t.Errorf("%s: active token shows %q, want %q", lang, active, want)
		}
		if got := d.Find(`tr[data-token-id="3"] [data-token-created-by]`).Text(); got != "other@example.com" {
			t.Errorf("%s: creator %q", lang, got)
		}
		if d.Find(`tr[data-token-id="1"] [data-token-expires] time`).Length() != 1 {
			t.Errorf("%s: no expiry time for token 1", lang)
		}
		if v, _ := d.Find(`input#new-token[data-new-token][readonly]`).Attr("value"); v != secret {
			t.Errorf("%s: new token value %q", lang, v)
		}
		btn := d.Find(`button[type="button"][data-action="copy-token"]`)
		if btn.Length() != 1 || btn.Text() == "" {
			t.Fatalf("%s: no copy button", lang)
		}
		if d.Find(`[data-copied="ok"][hidden]`).Length() != 1 || d.Find(`[data-copied="select"][hidden]`).Length() != 1 {
			t.Errorf("%s: the copy outcome texts are missing or shown before a click", lang)
		}
		noUntrustedInDataAttrs(t, d, "dst_abc")
	}
}
