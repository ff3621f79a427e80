package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/marketing-platform/distribution/internal/cache"
	"github.com/marketing-platform/distribution/internal/model"
)

// fanTarget is one SSE server under load: the product, the reference broadcaster or Mercure.
type fanTarget struct {
	name    string
	pid     int
	url     string
	header  http.Header
	debug   string // the product's DEBUG_ADDR (pprof); "" for the baselines
	publish func(ctx context.Context, ch int) (atMs int64, err error)
}

var chanNames = func() [][]byte {
	var out [][]byte
	for _, c := range model.AllChannels {
		out = append(out, []byte(c))
	}
	return out
}()

type fanStats struct {
	connected, disconnects, failed, delivered atomic.Int64
	measuring                                 atomic.Bool
	phaseStart                                atomic.Int64
	hist                                      [10001]atomic.Int64
}

type fanClient struct {
	last      [6]atomic.Int64 // per channel, the write time (unix ms) of the state on screen
	seen      [6]atomic.Int64 // per channel, when that state reached the client (unix ms)
	connected atomic.Bool
}

// screenAges is, for each client that connected, how far its screen lags behind the writer when
// the writer stops: per channel card, the write time of the channel's last write (final, unix ms)
// minus that of the state the card shows (0 when it shows the last write); the client's figure is
// its most lagging card. Sorted. A client that coalesces shows the latest state of each card; one
// that delivers every fragment in order shows what its queue has reached.
func screenAges(clients []*fanClient, final [6]int64) []int64 {
	var ages []int64
	for _, cl := range clients {
		if !cl.connected.Load() {
			continue
		}
		var age int64
		for ch := range 6 {
			if final[ch] > 0 {
				age = max(age, final[ch]-min(cl.last[ch].Load(), final[ch]))
			}
		}
		ages = append(ages, age)
	}
	slices.Sort(ages)
	return ages
}

// catchUps is, for each client that connected, how long after the writer stopped (at stop, unix
// ms) its screen showed every channel's last write: the arrival of its last card to get there, 0
// for a client already current. Sorted; behind counts the clients not current yet (call it once
// deliveries had time to drain), which have no figure.
func catchUps(clients []*fanClient, final [6]int64, stop int64) (times []int64, behind int) {
	for _, cl := range clients {
		if !cl.connected.Load() {
			continue
		}
		var t int64
		current := true
		for ch := range 6 {
			if final[ch] == 0 {
				continue
			}
			if cl.last[ch].Load() < final[ch] {
				current = false
				break
			}
			t = max(t, cl.seen[ch].Load()-stop)
		}
		if !current {
			behind++
			continue
		}
		times = append(times, t)
	}
	slices.Sort(times)
	return times, behind
}

// pctOf is the p-quantile of sorted values, -1 when there are none.
func pctOf(sorted []int64, p float64) int64 {
	if len(sorted) == 0 {
		return -1
	}
	return sorted[min(int(float64(len(sorted))*p), len(sorted)-1)]
}

var (
	attrCh = []byte(`data-channel="`)
	attrAt = []byte(`data-updated-at="`)
)

func (st *fanStats) line(cl *fanClient, line []byte) {
	for {
		i := bytes.Index(line, attrCh)
		if i < 0 {
			return
		}
		line = line[i+len(attrCh):]
		q := bytes.IndexByte(line, '"')
		if q < 0 {
			return
		}
		ch := -1
		for k, n := range chanNames {
			if bytes.Equal(line[:q], n) {
				ch = k
			}
		}
		j := bytes.Index(line, attrAt)
		if ch < 0 || j < 0 {
			continue
		}
		line = line[j+len(attrAt):]
		q = bytes.IndexByte(line, '"')
		at, err := strconv.ParseInt(string(line[:q]), 10, 64)
		if err != nil {
			continue
		}
		if at > cl.last[ch].Load() {
			now := time.Now().UnixMilli()
			cl.last[ch].Store(at)
			cl.seen[ch].Store(now)
			if st.measuring.Load() && at >= st.phaseStart.Load() {
				st.delivered.Add(1)
				st.hist[min(max(now-at, 0), 10000)].Add(1)
			}
		}
	}
}

func (st *fanStats) reset() {
	st.delivered.Store(0)
	for i := range st.hist {
		st.hist[i].Store(0)
	}
}

func (st *fanStats) pct(p float64) int64 {
	var total int64
	for i := range st.hist {
		total += st.hist[i].Load()
	}
	if total == 0 {
		return -1
	}
	want := int64(float64(total) * p)
	var acc int64
	for i := range st.hist {
		acc += st.hist[i].Load()
		if acc > want {
			return int64(i)
		}
	}
	return 10000
}

func runClient(ctx context.Context, hc *http.Client, t fanTarget, st *fanStats, cl *fanClient) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.url, nil)
	for k, v := range t.header {
		req.Header[k] = v
	}
	r, err := hc.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			st.failed.Add(1)
		}
		return
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		st.failed.Add(1)
		return
	}
	st.connected.Add(1)
	cl.connected.Store(true)
	br := bufio.NewReaderSize(r.Body, 8<<10)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			st.line(cl, line)
		}
		if err != nil && err != bufio.ErrBufferFull {
			if ctx.Err() == nil {
				st.disconnects.Add(1)
			}
			return
		}
	}
}

type phaseResult struct {
	rate, delivered       float64
	p50, p99              int64
	ageP50, ageP99        int64 // screen lag per client when the writer stops (screenAges)
	catchP50, catchP99    int64 // per client, time from the writer's stop to a current screen (catchUps)
	behind                int   // clients not current 2 s after the writer stopped
	cpuPerFrag            float64
	peakRSS, idlePerConn  int64
	missing, disc, failed int64
	connected             int
}

// fanRun connects n clients to t, runs a latency phase at rate changes/s, checks final states, and
// a saturated phase.
func fanRun(ctx context.Context, t fanTarget, n int, rate float64, satRate float64) (lat, sat phaseResult, err error) {
	st := &fanStats{}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0, DisableCompression: true, ForceAttemptHTTP2: false}}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rss0 := rssBytes(t.pid)
	clients := make([]*fanClient, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for i := range clients {
		clients[i] = &fanClient{}
		sem <- struct{}{}
		wg.Go(func() {
			go func() {
				time.Sleep(50 * time.Millisecond)
				<-sem
			}()
			runClient(cctx, hc, t, st, clients[i])
		})
	}
	deadline := time.Now().Add(90 * time.Second)
	for st.connected.Load()+st.failed.Load() < int64(n) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	lat.idlePerConn = (rssBytes(t.pid) - rss0) / int64(n)
	lat.connected = int(st.connected.Load())
	saveProfile(t.debug, "heap", fmt.Sprintf("heap-idle-%d", n))
	saveProfile(t.debug, "goroutine", fmt.Sprintf("goroutine-idle-%d", n)) // proto: small, unlike ?debug=2

	phase := func(r float64, d time.Duration, pr *phaseResult) (final [6]int64, err error) {
		st.reset()
		st.phaseStart.Store(time.Now().UnixMilli())
		st.measuring.Store(true)
		c0 := cpuTicks(t.pid)
		peak := rssBytes(t.pid)
		t0 := time.Now()
		tick := time.NewTicker(time.Duration(float64(time.Second) / r))
		defer tick.Stop()
		sent := 0
		for time.Since(t0) < d {
			<-tick.C
			ch := sent % 6
			at, err := t.publish(ctx, ch)
			if err != nil {
				return final, err
			}
			final[ch] = at
			sent++
			if sent%10 == 0 {
				peak = max(peak, rssBytes(t.pid))
			}
		}
		pub := time.Since(t0)
		stop := time.Now().UnixMilli()
		ages := screenAges(clients, final)
		pr.ageP50, pr.ageP99 = pctOf(ages, 0.5), pctOf(ages, 0.99)
		time.Sleep(2 * time.Second) // let deliveries drain
		catch, behind := catchUps(clients, final, stop)
		pr.catchP50, pr.catchP99, pr.behind = pctOf(catch, 0.5), pctOf(catch, 0.99), behind
		peak = max(peak, rssBytes(t.pid))
		st.measuring.Store(false)
		cpu := time.Duration(cpuTicks(t.pid)-c0) * tickDur
		pr.rate = float64(sent) / pub.Seconds()
		pr.delivered = float64(st.delivered.Load()) / (pub + 2*time.Second).Seconds()
		pr.p50, pr.p99 = st.pct(0.5), st.pct(0.99)
		if del := st.delivered.Load(); del > 0 {
			pr.cpuPerFrag = float64(cpu.Microseconds()) / float64(del)
		}
		pr.peakRSS = peak - rss0
		return final, nil
	}
	stopCPU := startCPUProfile(t.debug, fmt.Sprintf("cpu-latency-%d", n))
	final, err := phase(rate, 10*time.Second, &lat)
	stopCPU()
	if err != nil {
		return lat, sat, err
	}
	// Final states: one more write per channel, then every client must show each channel's last.
	for ch := range 6 {
		if final[ch], err = t.publish(ctx, ch); err != nil {
			return lat, sat, err
		}
	}
	time.Sleep(3 * time.Second)
	for _, cl := range clients {
		for ch := range 6 {
			if cl.last[ch].Load() < final[ch] {
				lat.missing++
			}
		}
	}
	lat.disc, lat.failed = st.disconnects.Load(), st.failed.Load()
	if _, err := phase(satRate, 5*time.Second, &sat); err != nil {
		return lat, sat, err
	}
	saveProfile(t.debug, "heap", fmt.Sprintf("heap-saturated-%d", n))
	sat.disc, sat.failed = st.disconnects.Load()-lat.disc, st.failed.Load()
	cancel()
	wg.Wait()
	hc.CloseIdleConnections()
	time.Sleep(time.Second)
	return lat, sat, nil
}

// productTarget writes channel changes the way the engine does: Postgres, then Redis.
func productTarget(ctx context.Context, e *benchEnv, o options, eventID string) (fanTarget, func(), error) {
	rdb, err := cache.NewClient(o.redisURL)
	if err != nil {
		return fanTarget{}, nil, err
	}
	c := cache.New(rdb, nil)
	d, err := e.store.FindDistribution(ctx, eventID)
	if err != nil {
		return fanTarget{}, nil, err
	}
	states := map[model.Channel]model.ChannelState{}
	for _, ch := range d.Channels {
		states[ch.Channel] = ch
	}
	var n atomic.Int64
	h := http.Header{}
	h.Set("Cookie", e.cookie.String())
	h.Set("Datastar-Request", "true")
	return fanTarget{
		name: "product", pid: e.srv.pid(), debug: e.debug, url: e.base + "/events/" + eventID + "/stream", header: h,
		publish: func(ctx context.Context, ch int) (int64, error) {
			// The engine's way (db.UpdateChannelProgress, then cache.PutChannel): one UPDATE
			// returning the row, then the Redis key; no re-read. Clients are only ever fed by
			// this writer, so the rest of the row is the state read at the start. The row's new
			// version goes with it: the cache keeps a key whose version is not older (versioned
			// writes), so a write carrying the start's version would only renew the TTL.
			s := states[model.AllChannels[ch]]
			s.Progress = int(n.Add(1) % 100)
			if err := e.store.Pool.QueryRow(ctx, `UPDATE channel_status SET progress = $2, update_timestamp = clock_timestamp(),
				updated_at = clock_timestamp() WHERE id = $1 RETURNING updated_at, update_timestamp, version`, s.ID, s.Progress).Scan(&s.UpdatedAt, &s.UpdateTimestamp, &s.Version); err != nil {
				return 0, err
			}
			if err := c.PutChannel(ctx, s); err != nil {
				return 0, err
			}
			return s.UpdatedAt.UnixMilli(), nil
		},
	}, func() { rdb.Close() }, nil
}

func refTarget(pid int, base string) fanTarget {
	hc := &http.Client{}
	return fanTarget{name: "reference", pid: pid, url: base + "/sse", publish: func(ctx context.Context, ch int) (int64, error) {
		at := time.Now().UnixMilli()
		r, err := hc.Post(fmt.Sprintf("%s/publish?ch=%s&at=%d", base, model.AllChannels[ch], at), "text/plain", nil)
		if err != nil {
			return 0, err
		}
		r.Body.Close()
		return at, nil
	}}
}

func benchFanout(ctx context.Context, o options, e *benchEnv, res *results) error {
	const eventID = "ev-2"
	if _, err := e.store.Pool.Exec(ctx, `UPDATE channel_status SET status = 'IN_PROGRESS', progress = 0 WHERE event_id = $1`, eventID); err != nil {
		return err
	}
	prod, closeProd, err := productTarget(ctx, e, o, eventID)
	if err != nil {
		return err
	}
	defer closeProd()
	self, _ := os.Executable()
	refAddr := freeAddr()
	ref, err := startProc("reference", self, []string{"ref", "-addr", refAddr}, nil)
	if err != nil {
		return err
	}
	defer ref.stop()
	if err := waitHTTP("http://"+refAddr+"/nothing", 10*time.Second); err != nil {
		return err
	}
	targets := []fanTarget{prod, refTarget(ref.pid(), "http://"+refAddr)}
	if mt, stop, err := mercureTarget(o); err != nil {
		res.note("Mercure baseline", "not run: "+err.Error())
	} else {
		defer stop()
		targets = append(targets, mt)
	}
	if o.only != "" { // -only product: a quick look at one target (the table then lacks its baselines)
		var keep []fanTarget
		for _, t := range targets {
			if t.name == o.only {
				keep = append(keep, t)
			}
		}
		targets = keep
	}
	for _, n := range o.fanN {
		rate, latTarget := 50.0, int64(25)
		if n > 1000 {
			rate, latTarget = 1, 300
		}
		got := map[string][2]phaseResult{}
		for _, t := range targets {
			fmt.Fprintf(os.Stderr, "bench: fan-out %s, %d clients\n", t.name, n)
			lat, sat, err := fanRun(ctx, t, n, rate, 200)
			if err != nil {
				return fmt.Errorf("%s at %d clients: %w", t.name, n, err)
			}
			fmt.Fprintf(os.Stderr, "  %+v\n  %+v\n", lat, sat)
			got[t.name] = [2]phaseResult{lat, sat}
		}
		if o.only != "" {
			continue // no baseline to compare with: the figures are on stderr
		}
		p, r := got["product"], got["reference"]
		m, hasM := got["mercure"]
		base := func(f func(x [2]phaseResult) string) string {
			s := f(r) + " (ref)"
			if hasM {
				s += "; " + f(m) + " (Mercure)"
			}
			return s
		}
		lat := func(x [2]phaseResult) string { return fmt.Sprintf("%d / %d ms", x[0].p50, x[0].p99) }
		lim := min(latTarget, max(r[0].p99*3/2, 1))
		res.add(fmt.Sprintf("fan-out %d clients @ %.0f changes/s: write→delivered p50 / p99", n, rate), lat(p), base(lat),
			fmt.Sprintf("%.2fx p99", float64(p[0].p99)/float64(max(r[0].p99, 1))),
			fmt.Sprintf("p99 ≤ %d ms (≤ 1.5x ref and ≤ %d ms)", lim, latTarget), b(p[0].p99 >= 0 && p[0].p99 <= lim))
		miss := func(x [2]phaseResult) string {
			return fmt.Sprintf("%d missing, %d disconnects, %d failed connects (%d connected)", x[0].missing, x[0].disc+x[1].disc, x[0].failed, x[0].connected)
		}
		res.add(fmt.Sprintf("fan-out %d clients: missing final states", n), miss(p), base(miss), "—", "0 missing", b(p[0].missing == 0 && p[0].connected == n))
		dl := func(x [2]phaseResult) string { return fmt.Sprintf("%.0f/s", x[1].delivered) }
		rr := p[1].delivered / max(r[1].delivered, 1)
		ratio, tgt, ok := fmt.Sprintf("%.2fx ref", rr), "≥ 0.6x ref", rr >= 0.6
		if hasM {
			mr := p[1].delivered / max(m[1].delivered, 1)
			ratio += fmt.Sprintf(", %.2fx Mercure", mr)
			tgt, ok = "≥ 0.6x ref, ≥ 1.2x Mercure", ok && mr >= 1.2
		}
		res.add(fmt.Sprintf("fan-out %d clients, writes at up to 200/s: delivered fragments/s", n), dl(p), base(dl), ratio, tgt, b(ok))
		// What a progress dashboard needs is the newest state on screen, not every intermediate
		// one: the product coalesces a card's changes (a viewer gets the latest), the reference
		// broadcaster and Mercure deliver each fragment, so delivered/s alone favours them.
		// Each target takes writes as fast as it answers them, up to 200/s: the rate it reached is
		// beside its figures, as a target slower to answer had fewer changes to deliver.
		age := func(x [2]phaseResult) string {
			return fmt.Sprintf("%d / %d ms (%.0f writes/s)", x[1].ageP50, x[1].ageP99, x[1].rate)
		}
		lagRatio := "—" // a baseline at 0 ms has no ratio
		if r[1].ageP99 > 0 {
			lagRatio = fmt.Sprintf("%.2fx ref p99", float64(p[1].ageP99)/float64(r[1].ageP99))
		}
		res.add(fmt.Sprintf("fan-out %d clients, writes at up to 200/s: screen lag behind the writer when it stops (most lagging card per client), p50 / p99", n),
			age(p), base(age), lagRatio, "—", nil)
		catch := func(x [2]phaseResult) string {
			s := fmt.Sprintf("%d / %d ms", x[1].catchP50, x[1].catchP99)
			if x[1].catchP50 < 0 {
				s = "—"
			}
			return fmt.Sprintf("%s (%d behind after 2 s)", s, x[1].behind)
		}
		res.add(fmt.Sprintf("fan-out %d clients, writes at up to 200/s: time from the writer's stop to a current screen, p50 / p99", n),
			catch(p), base(catch), "—", "—", nil)
		cpu := func(x [2]phaseResult) string { return fmt.Sprintf("%.1f µs", x[1].cpuPerFrag) }
		res.add(fmt.Sprintf("fan-out %d clients: server CPU per delivered fragment", n), cpu(p), base(cpu), "—", "≤ 15 µs", b(p[1].cpuPerFrag <= 15))
		mem := func(x [2]phaseResult) string {
			return fmt.Sprintf("%.1f KB idle/conn, %.0f MB peak", float64(x[0].idlePerConn)/1024, float64(max(x[0].peakRSS, x[1].peakRSS))/(1<<20))
		}
		peakOK := n < 10000 || max(p[0].peakRSS, p[1].peakRSS) <= 450<<20
		res.add(fmt.Sprintf("fan-out %d clients: server memory", n), mem(p), base(mem), "—", "≤ 40 KB idle/conn; ≤ 450 MB peak at 10k", b(p[0].idlePerConn <= 40<<10 && peakOK))
	}
	return nil
}
