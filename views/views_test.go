package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"go.uber.org/goleak"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/views"
)

func TestCatalogueComplete(t *testing.T) {
	t.Parallel()
	for _, k := range views.Keys() {
		en, ko := views.T("en", k), views.T("ko", k)
		if en == "" || ko == "" || en == k || ko == k {
			t.Errorf("key %q: en %q, ko %q", k, en, ko)
		}
	}
	if views.T("en", "no.such.key") != "no.such.key" {
		t.Error("a missing key should show itself")
	}
}

// TestCatalogueKeysAreUnique: a key in two catalogues would show whichever T consults first.
func TestCatalogueKeysAreUnique(t *testing.T) {
	t.Parallel()
	keys := views.Keys()
	for i := 1; i < len(keys); i++ {
		if keys[i] == keys[i-1] {
			t.Errorf("key %q is in two catalogues", keys[i])
		}
	}
}

func TestResolveLang(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cookie, accept, want string }{
		{"", "", "en"},
		{"", "ko-KR,ko;q=0.9,en-US;q=0.8", "ko"},
		{"", "en-US,en;q=0.9,ko;q=0.8", "en"},
		{"", "fr-FR, ko;q=0.5, en;q=0.3", "ko"},
		{"", "ko;q=0, en;q=0.1", "en"},
		{"", "de, fr", "en"},
		{"", "KO", "ko"},
		{"", "ko;q=bogus, en;q=0.2", "en"},
		{"en", "ko-KR", "en"},
		{"ko", "en", "ko"},
		{"xx", "ko", "ko"},
	} {
		if got := views.ResolveLang(tc.cookie, tc.accept); got != tc.want {
			t.Errorf("ResolveLang(%q, %q) = %q, want %q", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func doc(t *testing.T, html string) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(html))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestLayoutEscapesUserText(t *testing.T) {
	t.Parallel()
	evil := `<script>alert(1)</script>"'@example.com`
	p := views.Page{Lang: "en", Title: "T", CSRF: "tok123", Path: "/", Principal: &model.Principal{Name: evil, Role: model.RoleManager}}
	var buf bytes.Buffer
	if err := views.Layout(p).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	if strings.Contains(html, "<script>alert") {
		t.Fatal("user name rendered unescaped")
	}
	d := doc(t, html)
	if !strings.Contains(d.Find("header").Text(), evil) {
		t.Error("user name not shown as text")
	}
	if sig, _ := d.Find("body").Attr("data-signals"); sig != `{"_csrf":"tok123"}` {
		t.Errorf("body data-signals = %q", sig)
	}
	// Untrusted text never lands in a data-* attribute.
	d.Find("*").Each(func(_ int, s *goquery.Selection) {
		for _, a := range s.Nodes[0].Attr {
			if strings.HasPrefix(a.Key, "data-") && strings.Contains(a.Val, "alert") {
				t.Errorf("untrusted text in %s=%q", a.Key, a.Val)
			}
		}
	})
	if d.Find(`nav a[href="/reports"]`).Length() != 1 {
		t.Error("manager lacks Reports")
	}
}

func TestLoginRender(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := views.Page{Lang: "ko", Title: "로그인", CSRF: "tok"}
	if err := views.Login(p, views.LoginForm{Email: "a@b.c", Next: "/x", Error: "bad"}).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	d := doc(t, buf.String())
	if d.Find(`p#login-error[role="alert"]`).Text() == "" {
		t.Error("no alert")
	}
	if v, _ := d.Find(`#email`).Attr("aria-describedby"); v != "login-error" {
		t.Error("email input not described by the error")
	}
	if d.Find(`form[action="/logout"]`).Length() != 0 {
		t.Error("anonymous page shows logout")
	}
	if l, _ := d.Find("html").Attr("lang"); l != "ko" {
		t.Errorf("lang %q", l)
	}
}

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
