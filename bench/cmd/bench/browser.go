package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/marketing-platform/distribution/internal/cache"
)

// Browser latency: real headless Chromium on an event's detail page, logged in through the form;
// a MutationObserver records, for every change of a channel card's data-updated-at, the page's
// clock (performance.timeOrigin + performance.now(), unix ms on the machine's clock) and the new
// value. The suite writes progress changes the way the engine does (one autocommitted Postgres
// UPDATE with updated_at = now(), then the Redis channel key) and measures DOM time minus
// data-updated-at: Postgres, the browser and the suite share one machine clock.

const (
	browserChanges = 200
	browserSpacing = 50 * time.Millisecond
	browserTarget  = 50.0 // ms, p99
)

// observerJS installs the recorder; it runs once per page.
const observerJS = `(() => {
  window.__lat = [];
  const sel = '[data-channel][data-updated-at]';
  const rec = (el, t) => window.__lat.push([t, Number(el.getAttribute('data-updated-at')), el.getAttribute('data-channel')]);
  new MutationObserver(ms => {
    const t = performance.timeOrigin + performance.now();
    for (const m of ms) {
      if (m.type === 'attributes') {
        if (m.target.matches(sel) && m.target.getAttribute('data-updated-at') !== m.oldValue) rec(m.target, t);
        continue;
      }
      for (const n of m.addedNodes) {
        if (n.nodeType !== 1) continue;
        if (n.matches(sel)) rec(n, t);
        n.querySelectorAll(sel).forEach(el => rec(el, t));
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
    attributeFilter: ['data-updated-at'], attributeOldValue: true});
  return true;
})()`

func chromiumPath() (string, error) {
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium", nil
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p, nil
	}
	return "", errors.New("chromium is not installed (make test-tools)")
}

func benchBrowser(ctx context.Context, e *benchEnv, res *results) error {
	const eventID = "ev-3"
	const figure = "browser write→DOM (headless Chromium, detail page, 200 progress changes 50 ms apart)"
	path, err := chromiumPath()
	if err != nil {
		return err
	}
	if _, err := e.store.Pool.Exec(ctx, `UPDATE channel_status SET status = 'IN_PROGRESS', progress = 0 WHERE event_id = $1`, eventID); err != nil {
		return err
	}
	d, err := e.store.FindDistribution(ctx, eventID)
	if err != nil {
		return err
	}
	rdb, err := cache.NewClient(e.redisURL)
	if err != nil {
		return err
	}
	defer rdb.Close()
	c := cache.New(rdb, nil)
	if err := c.PutDistribution(ctx, d); err != nil {
		return err
	}

	dir, err := os.MkdirTemp("", "bench-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(dir),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	// An empty Do starts the browser; a first action under a WithTimeout child hung (STACK.md).
	if err := chromedp.Do(bctx); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	step := func(what string, d time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
		sctx, cancel := context.WithTimeout(bctx, d)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	evalJS := func(js string) (string, error) {
		sctx, cancel := context.WithTimeout(bctx, 15*time.Second)
		defer cancel()
		return chromedp.Run(sctx, chromedp.Evaluate[string](js))
	}
	if err := step("log in", 30*time.Second,
		chromedp.Navigate(e.base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), "bench@example.com"),
		chromedp.SendKeys(chromedp.CSS(`#password`), "bench-password-1"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-user-role]`)),
	); err != nil {
		return err
	}
	if err := step("open the detail page", 30*time.Second, chromedp.Navigate(e.base+"/events/"+eventID)); err != nil {
		return err
	}
	pctx, cancelP := context.WithTimeout(bctx, 20*time.Second)
	_, err = chromedp.Run(pctx, chromedp.Poll[bool](
		`document.querySelector('[data-live-state]')?.dataset.liveState === 'connected' && document.querySelectorAll('[data-channel][data-updated-at]').length === 6`,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(15*time.Second)))
	cancelP()
	if err != nil {
		return fmt.Errorf("waiting for the live stream: %w", err)
	}
	if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](observerJS)); err != nil {
		return fmt.Errorf("install observer: %w", err)
	}

	// The writes, the engine's way (db.UpdateChannelProgress then cache.PutChannel), each with the
	// row version the update gave it (migration 0009's trigger): the cache keeps a key whose
	// version is not older, so a write carrying the first read's version changed nothing.
	type written struct {
		ch string
		at int64
	}
	var writes []written
	tick := time.NewTicker(browserSpacing)
	defer tick.Stop()
	for i := range browserChanges {
		<-tick.C
		s := d.Channels[i%len(d.Channels)]
		s.Progress = 1 + i%99
		if err := e.store.Pool.QueryRow(ctx, `UPDATE channel_status SET progress = $2, update_timestamp = now(), updated_at = now()
			WHERE id = $1 RETURNING updated_at, update_timestamp, version`, s.ID, s.Progress).Scan(&s.UpdatedAt, &s.UpdateTimestamp, &s.Version); err != nil {
			return err
		}
		if err := c.PutChannel(ctx, s); err != nil {
			return err
		}
		writes = append(writes, written{string(s.Channel), s.UpdatedAt.UnixMilli()})
	}
	time.Sleep(time.Second)
	raw, err := evalJS(`JSON.stringify(window.__lat)`)
	if err != nil {
		return fmt.Errorf("collect: %w", err)
	}
	var recs [][3]any
	if err := json.Unmarshal([]byte(raw), &recs); err != nil {
		return err
	}
	first := map[written]float64{} // (channel, data-updated-at) -> first DOM time
	for _, r := range recs {
		t, _ := r[0].(float64)
		at, _ := r[1].(float64)
		ch, _ := r[2].(string)
		k := written{ch, int64(at)}
		if _, ok := first[k]; !ok {
			first[k] = t
		}
	}
	var lat []float64
	for _, w := range writes {
		if t, ok := first[w]; ok {
			lat = append(lat, t-float64(w.at))
		}
	}
	missing := len(writes) - len(lat)
	if len(lat) == 0 {
		return fmt.Errorf("no change reached the DOM (%d records)", len(recs))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return lat[min(len(lat)-1, int(math.Ceil(p*float64(len(lat))))-1)] }
	p50, p99 := pct(0.5), pct(0.99)
	res.add(figure+": p50 / p99",
		fmt.Sprintf("%.1f / %.1f ms (%d of %d changes seen, max %.1f ms)", p50, p99, len(lat), len(writes), lat[len(lat)-1]),
		"—", "—", fmt.Sprintf("p99 ≤ %.0f ms, every change seen", browserTarget), b(p99 <= browserTarget && missing == 0))
	return nil
}
