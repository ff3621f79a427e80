package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketing-platform/distribution/handlers"
	"github.com/marketing-platform/distribution/internal/auth"
	"github.com/marketing-platform/distribution/internal/model"
)

// List streams cannot multiply the database's work (RELIABILITY.md S7): 1,000 open list
// streams with 50 distinct filters (50 users, 20 streams each: under the per-user cap) while 50
// events a second are created through the API; another user loads the events list meanwhile.
const (
	lsStreams  = 1000
	lsFilters  = 50
	lsRate     = 50 // new events per second
	lsDuration = 10 * time.Second
)

// lsFilterQueries are 50 distinct list queries a person can make with the filter form.
func lsFilterQueries() []string {
	statuses := []string{"", "IN_PROGRESS", "COMPLETED", "PARTIAL_SUCCESS", "FAILED"}
	channels := append([]string{""}, func() (cs []string) {
		for _, c := range model.AllChannels {
			cs = append(cs, string(c))
		}
		return cs
	}()...)
	chStatuses := []string{"", "FAILED", "SUCCESS"}
	var qs []string
	for _, cs := range chStatuses {
		for _, ch := range channels {
			for _, st := range statuses {
				v := url.Values{}
				for k, x := range map[string]string{"status": st, "channel": ch, "channel_status": cs} {
					if x != "" {
						v.Set(k, x)
					}
				}
				if len(qs) < lsFilters {
					qs = append(qs, v.Encode())
				}
			}
		}
	}
	return qs
}

func benchListStreams(ctx context.Context, e *benchEnv, res *results) error {
	logger := slog.New(slog.DiscardHandler)
	// Cheap password hashing: the row measures streams, not logins.
	svc := auth.NewService(e.store, auth.Config{Argon2: auth.Argon2Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}, logger)
	const users = lsStreams / 20
	cookies := make([]*http.Cookie, users)
	for i := range users {
		email := fmt.Sprintf("lists-%d@example.com", i)
		if _, err := svc.CreateUser(ctx, email, "bench-password-1", model.RoleMarketer, "bench"); err != nil {
			return err
		}
		secret, _, err := svc.Login(ctx, email, "bench-password-1", "127.0.0.1", "bench")
		if err != nil {
			return err
		}
		cookies[i] = &http.Cookie{Name: handlers.SessionCookieName(false), Value: secret}
	}
	token, err := svc.CreateToken(ctx, "bench-lists", model.RoleMarketer, "bench")
	if err != nil {
		return err
	}

	base := lsLoad(ctx, e, token, "baseline")
	if base.err != nil {
		return base.err
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	streamClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: -1, DisableCompression: true}}
	defer streamClient.CloseIdleConnections()
	var (
		wg             sync.WaitGroup
		opened, ended  atomic.Int64
		failed         atomic.Int64
		sem            = make(chan struct{}, 32)
		filters        = lsFilterQueries()
		allOpen        = make(chan struct{})
		openedOrFailed atomic.Int64
	)
	for i := range lsStreams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := func() {
				if openedOrFailed.Add(1) == lsStreams {
					close(allOpen)
				}
			}
			sem <- struct{}{}
			req, _ := http.NewRequestWithContext(sctx, http.MethodGet, e.base+"/events/stream?"+filters[i%lsFilters], nil)
			req.AddCookie(cookies[i%users])
			req.Header.Set("Datastar-Request", "true")
			r, err := streamClient.Do(req)
			if err != nil || r.StatusCode != http.StatusOK {
				<-sem
				failed.Add(1)
				done()
				if r != nil {
					r.Body.Close()
				}
				return
			}
			defer r.Body.Close()
			br := bufio.NewReader(r.Body)
			if _, err := br.ReadString('\n'); err != nil { // the first patch has begun
				<-sem
				failed.Add(1)
				done()
				return
			}
			<-sem
			opened.Add(1)
			done()
			_, _ = io.Copy(io.Discard, br)
			if sctx.Err() == nil {
				ended.Add(1) // the server ended a stream during the run
			}
		}()
	}
	select {
	case <-allOpen:
	case <-time.After(2 * time.Minute):
		return fmt.Errorf("list streams: %d of %d open after 2 minutes", opened.Load(), lsStreams)
	}
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("list streams: %d of %d failed to open", f, lsStreams)
	}

	// Once with the streams open (the row); the baseline ran the same load before they opened.
	load := lsLoad(ctx, e, token, "streams")
	stillOpen := opened.Load() - ended.Load()
	cancel()
	wg.Wait()
	if load.err != nil {
		return load.err
	}
	p50, p99 := pct(load.lat, 0.5), pct(load.lat, 0.99)
	ratio := "—"
	if bp := pct(base.lat, 0.99); bp > 0 {
		ratio = fmt.Sprintf("%.2fx p99", float64(p99)/float64(bp))
	}
	res.add(fmt.Sprintf("list streams: %d open (%d filters, %d users) @ %d new events/s for %s: another user's GET / p50 / p99",
		lsStreams, lsFilters, users, lsRate, lsDuration),
		fmt.Sprintf("%s / %s (%d GETs; %d events created, %d errors; %d streams open at the end; server CPU %.0f%%)",
			ms(p50), ms(p99), len(load.lat), load.created, load.errs, stillOpen, load.cpu*100),
		fmt.Sprintf("%s / %s (same writes, no stream open; server CPU %.0f%%)", ms(pct(base.lat, 0.5)), ms(pct(base.lat, 0.99)), base.cpu*100),
		ratio, "p99 < 50 ms", b(p99 < 50*time.Millisecond && stillOpen == lsStreams && load.errs == 0))
	return nil
}

// lsResult is what one load phase measured.
type lsResult struct {
	lat           []time.Duration // another user's GET / latencies
	created, errs int64           // events created through the API, failed creations
	cpu           float64         // the product's CPU (cores) over the phase
	err           error
}

// lsLoad creates lsRate events a second through the API for lsDuration while another user (the
// bench session) loads the events list, one request at a time at a person's pace.
func lsLoad(ctx context.Context, e *benchEnv, token, phase string) lsResult {
	apiClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer apiClient.CloseIdleConnections()
	var created, createErrs atomic.Int64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		t := time.NewTicker(time.Second / lsRate)
		defer t.Stop()
		var cw sync.WaitGroup
		defer cw.Wait()
		end := time.Now().Add(lsDuration)
		for n := 0; time.Now().Before(end); n++ {
			<-t.C
			cw.Go(func() {
				body := fmt.Sprintf(`{"title":"List streams bench, %s %d"}`, phase, n)
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, e.base+"/api/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/json")
				r, err := apiClient.Do(req)
				if err != nil {
					createErrs.Add(1)
					return
				}
				_, _ = io.Copy(io.Discard, r.Body)
				r.Body.Close()
				if r.StatusCode != http.StatusCreated {
					createErrs.Add(1)
					return
				}
				created.Add(1)
			})
		}
	}()

	pageClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	defer pageClient.CloseIdleConnections()
	var res lsResult
	get := func() error {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.base+"/", nil)
		req.AddCookie(e.cookie)
		s := time.Now()
		r, err := pageClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /: %s", r.Status)
		}
		res.lat = append(res.lat, time.Since(s))
		return nil
	}
	for range 20 { // warm-up, not measured
		if res.err = get(); res.err != nil {
			return res
		}
	}
	res.lat = res.lat[:0]
	cpu0, t0 := cpuTicks(e.srv.pid()), time.Now()
	for res.err == nil {
		select {
		case <-writerDone:
		case <-time.After(20 * time.Millisecond): // a person's pace, not a load test of its own
			res.err = get()
			continue
		}
		break
	}
	<-writerDone
	res.cpu = float64(cpuTicks(e.srv.pid())-cpu0) * float64(tickDur) / float64(time.Since(t0))
	res.created, res.errs = created.Load(), createErrs.Load()
	return res
}
