package web_test

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/web"
)

// TestDeviceCookie: a successful login gives the browser a long-lived, HttpOnly, SameSite=Strict
// device cookie (Secure and __Host- over TLS) that survives logout; with it the owner logs in while
// a stranger's wrong passwords have locked the account for everyone else.
func TestDeviceCookie(t *testing.T) {
	t.Parallel()
	for _, secure := range []bool{false, true} {
		t.Run(fmt.Sprintf("secure=%v", secure), func(t *testing.T) {
			t.Parallel()
			a := newApp(t, web.Config{SecureCookies: secure})
			a.user("owner@example.com", model.RoleManager)
			name := handlers.DeviceCookieName(secure)
			owner := a.client()
			r := owner.login("owner@example.com", password, "")
			wantRedirect(t, r, "/")
			var ck *http.Cookie
			for _, c := range r.Cookies() {
				if c.Name == name {
					ck = c
				}
			}
			if ck == nil || ck.Value == "" || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Secure != secure ||
				ck.Path != "/" || ck.Domain != "" || ck.MaxAge < 300*24*3600 {
				t.Fatalf("device cookie %s = %+v; want HttpOnly, SameSite=Strict, Secure=%v, Path=/, no Domain, long-lived", name, ck, secure)
			}

			home := parse(t, owner.get("/").body)
			tok, _ := home.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
			wantRedirect(t, owner.post("/logout", url.Values{"_csrf": {tok}}, nil), "/login")
			if owner.cookie(name) != ck.Value {
				t.Fatal("logout dropped the device cookie")
			}

			attacker := a.client()
			attacker.ip = "203.0.113.66"
			for range 5 {
				wantStatus(t, attacker.login("owner@example.com", "not-the-password", ""), http.StatusUnauthorized)
			}
			stranger := a.client()
			stranger.ip = "192.0.2.99"
			wantStatus(t, stranger.login("owner@example.com", password, ""), http.StatusTooManyRequests)
			owner.ip = attacker.ip // even behind the attacker's address
			wantRedirect(t, owner.login("owner@example.com", password, ""), "/")
		})
	}
}

// TestLoginBurstOverHTTP: 300 concurrent logins from one client address (behind a trusted proxy)
// are refused with 429 beyond the per-address limit, without hashing, while a user at another
// address logs in.
func TestLoginBurstOverHTTP(t *testing.T) {
	t.Parallel()
	_, proxies, _ := net.ParseCIDR("192.0.2.0/24")
	a := newApp(t, web.Config{TrustedProxies: []*net.IPNet{proxies}})
	a.user("busy@example.com", model.RoleStaff)
	before := a.auth.Verifications()
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	throttled := make(chan struct{})
	var once sync.Once
	burst := a.client() // one browser's cookies (CSRF), shared by the whole burst
	burst.header["X-Forwarded-For"] = "203.0.113.7"
	tok := burst.csrf()
	for i := range 300 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := burst.post("/login", url.Values{"email": {fmt.Sprintf("spray%d@example.com", i)}, "password": {"guess"}, "_csrf": {tok}}, nil)
			mu.Lock()
			statuses[r.StatusCode]++
			mu.Unlock()
			if r.StatusCode == http.StatusTooManyRequests {
				once.Do(func() { close(throttled) })
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-throttled:
	case <-done:
		select {
		case <-throttled:
		default:
			t.Fatalf("no request of the burst was throttled: %v", statuses)
		}
	}
	other := a.client()
	other.header["X-Forwarded-For"] = "198.51.100.9"
	wantRedirect(t, other.login("busy@example.com", password, ""), "/")
	wg.Wait()
	if got := a.auth.Verifications() - before; got > 31 || statuses[http.StatusTooManyRequests] < 270 || statuses[http.StatusUnauthorized] > 30 {
		t.Fatalf("burst of 300: %d verifications, statuses %v; want at most 30 evaluated, the rest 429", got, statuses)
	}
}
