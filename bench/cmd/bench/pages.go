package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

func flushRedis(ctx context.Context, url string) error {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return err
	}
	c := redis.NewClient(opt)
	defer c.Close()
	return c.FlushDB(ctx).Err()
}

func pct(xs []time.Duration, p float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// searchPath is the list searching what people paste: a post URL as shared (http, no www., a
// share parameter), matched by post_url through the indexes of migration 0014, not a scan.
var searchPath = "/?q=" + url.QueryEscape("http://instagram.com/p/Bench40000?igsh=abc")

// wantOneRow checks that the list at path shows exactly one event.
func wantOneRow(client *http.Client, e *benchEnv, path string) error {
	req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
	req.AddCookie(e.cookie)
	r, err := client.Do(req)
	if err != nil {
		return err
	}
	defer r.Body.Close()
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if n := strings.Count(string(body), "data-event-id="); r.StatusCode != http.StatusOK || n != 1 {
		return fmt.Errorf("GET %s: %s with %d events, want 1", path, r.Status, n)
	}
	return nil
}

// benchPages measures the events list through the product's HTTP handler (auth, query, templ
// render) over loopback.
func benchPages(ctx context.Context, e *benchEnv, res *results) error {
	var at time.Time
	var id string
	if err := e.store.Pool.QueryRow(ctx, `SELECT created_at, id FROM events ORDER BY created_at DESC, id DESC OFFSET 50000 LIMIT 1`).Scan(&at, &id); err != nil {
		return err
	}
	deep := base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "," + id))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) (time.Duration, error) {
		req, _ := http.NewRequest(http.MethodGet, e.base+path, nil)
		req.AddCookie(e.cookie)
		t0 := time.Now()
		r, err := client.Do(req)
		if err != nil {
			return 0, err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		d := time.Since(t0)
		if r.StatusCode != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %s", path, r.Status)
		}
		return d, nil
	}
	// The search row measures a search that finds its one event, not an empty page.
	if err := wantOneRow(client, e, searchPath); err != nil {
		return err
	}
	stopCPU := startCPUProfile(e.debug, "cpu-pages")
	defer stopCPU()
	for _, pg := range []struct{ name, path string }{
		{"first page", "/"},
		{"deep keyset page (row 50,000)", "/?cursor=" + deep},
		{"failed only", "/?status=FAILED"},
		{"search a pasted post URL", searchPath},
	} {
		for range 20 {
			if _, err := get(pg.path); err != nil {
				return err
			}
		}
		for _, conc := range []int{1, 4} {
			const per = 250
			var (
				mu   sync.Mutex
				all  []time.Duration
				wg   sync.WaitGroup
				ferr error
			)
			for range conc {
				wg.Go(func() {
					for range per {
						d, err := get(pg.path)
						mu.Lock()
						if err != nil {
							ferr = err
						}
						all = append(all, d)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if ferr != nil {
				return ferr
			}
			p50, p99 := pct(all, 0.5), pct(all, 0.99)
			target, pass := "—", (*bool)(nil)
			if conc == 4 {
				target, pass = "p50 ≤ 5 ms, p99 ≤ 20 ms", b(p50 <= 5*time.Millisecond && p99 <= 20*time.Millisecond)
			}
			res.add(fmt.Sprintf("events list 100k, %s, %d concurrent: p50 / p99", pg.name, conc),
				ms(p50)+" / "+ms(p99), "—", "—", target, pass)
		}
	}
	return nil
}
