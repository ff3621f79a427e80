package system

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/proctest"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// openStore opens the database the processes use, for reading the source of truth.
func openStore(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := db.Open(ctx, url, quiet)
	if err != nil {
		t.Fatalf("open %s: %v", db.DatabaseName(url), err)
	}
	t.Cleanup(store.Close)
	return store
}

func qctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Second)
}

// distribution reads an event's distribution from Postgres.
func distribution(store *db.DB, eventID string) (model.Distribution, error) {
	ctx, cancel := qctx()
	defer cancel()
	return store.FindDistribution(ctx, eventID)
}

func attempts(t testing.TB, store *db.DB, eventID string) []model.Attempt {
	t.Helper()
	ctx, cancel := qctx()
	defer cancel()
	as, err := store.FindAttempts(ctx, eventID)
	if err != nil {
		t.Fatalf("attempts of %s: %v", eventID, err)
	}
	return as
}

// attemptsOf filters attempts to one channel, in attempt order.
func attemptsOf(as []model.Attempt, ch model.Channel) []model.Attempt {
	var out []model.Attempt
	for _, a := range as {
		if a.Channel == ch {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b model.Attempt) int { return a.Attempt - b.Attempt })
	return out
}

// summary is a one-line view of a distribution for failure messages.
func summary(d model.Distribution) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", d.OverallStatus)
	for _, c := range d.Channels {
		fmt.Fprintf(&b, " %s=%s/%d", c.Channel, c.Status, c.Progress)
		if c.ErrorMessage != nil {
			fmt.Fprintf(&b, "(%q)", *c.ErrorMessage)
		}
	}
	return b.String()
}

func describeAttempts(as []model.Attempt) string {
	var b strings.Builder
	for _, a := range as {
		fin := "-"
		if a.FinishedAt != nil {
			fin = a.FinishedAt.Sub(a.StartedAt).Round(time.Millisecond).String()
		}
		errText := ""
		if a.Error != nil {
			errText = *a.Error
		}
		fmt.Fprintf(&b, "\n  %s #%d gen=%d trigger=%s outcome=%s took=%s err=%q", a.Channel, a.Attempt, a.Generation, a.Trigger, a.Outcome, fin, errText)
	}
	return b.String()
}

// waitDistribution polls Postgres until cond holds for the event's distribution.
func waitDistribution(t testing.TB, store *db.DB, eventID string, deadline time.Time, what string,
	cond func(model.Distribution) bool, watch ...*proctest.Proc) model.Distribution {
	t.Helper()
	var d model.Distribution
	proctest.WaitFor(t, deadline, eventID+": "+what, func() (bool, string) {
		var err error
		d, err = distribution(store, eventID)
		if err != nil {
			return false, err.Error()
		}
		return cond(d), summary(d)
	}, watch...)
	return d
}

// terminal: the overall status is final.
func terminal(d model.Distribution) bool { return d.OverallStatus.Terminal() }

// allChannels reports whether every channel satisfies f.
func allChannels(d model.Distribution, f func(model.ChannelState) bool) bool {
	if len(d.Channels) == 0 {
		return false
	}
	for _, c := range d.Channels {
		if !f(c) {
			return false
		}
	}
	return true
}

// checkAttemptInvariants: no attempt is left running, and the attempts of one channel never
// overlap in time (one job of a channel runs at a time, even across processes).
func checkAttemptInvariants(t testing.TB, as []model.Attempt) {
	t.Helper()
	for _, ch := range model.AllChannels {
		list := attemptsOf(as, ch)
		for i, a := range list {
			if a.Outcome == model.OutcomeRunning || a.FinishedAt == nil {
				t.Errorf("%s attempt %d is still %q after the distribution finished:%s", ch, a.Attempt, a.Outcome, describeAttempts(list))
			}
			if i > 0 {
				prev := list[i-1]
				if prev.FinishedAt != nil && a.StartedAt.Before(*prev.FinishedAt) {
					t.Errorf("%s attempts %d and %d overlap (two jobs of one channel at once):%s", ch, prev.Attempt, a.Attempt, describeAttempts(list))
				}
			}
		}
	}
}

// checkResults: a SUCCESS channel carries the results its channel produces (DESIGN.md table).
func checkResults(t testing.TB, d model.Distribution) {
	t.Helper()
	for _, c := range d.Channels {
		if c.Status != model.StatusSuccess {
			continue
		}
		missing := []string{}
		need := func(name string, v *string) {
			if v == nil || *v == "" {
				missing = append(missing, name)
			}
		}
		if c.EstimatedViews == nil || *c.EstimatedViews <= 0 {
			missing = append(missing, "estimated_views")
		}
		switch c.Channel {
		case model.ChannelUridongneTV, model.ChannelGiniTV:
			need("distribution_id", c.DistributionID)
			need("impression_schedule", c.ImpressionSchedule)
		case model.ChannelRingoBiz:
			need("distribution_id", c.DistributionID)
		case model.ChannelInstagram, model.ChannelNaver:
			need("post_id", c.PostID)
			need("post_url", c.PostURL)
		case model.ChannelKakao:
			need("message_id", c.MessageID)
		}
		if c.Progress != 100 || c.CompletedAt == nil {
			missing = append(missing, fmt.Sprintf("progress 100 and completed_at (progress %d)", c.Progress))
		}
		if len(missing) > 0 {
			t.Errorf("%s %s is SUCCESS without %s", d.EventID, c.Channel, strings.Join(missing, ", "))
		}
	}
}

// checkOnePostEach: the simulator made exactly one real post per (event, channel) of d.
func checkOnePostEach(t testing.TB, sims map[model.Channel]*simProc, d model.Distribution) {
	t.Helper()
	stats := map[*simProc]map[string]map[model.Channel]int{}
	for _, c := range d.Channels {
		s := sims[c.Channel]
		if _, ok := stats[s]; !ok {
			stats[s] = s.stats(t).Posts
		}
		if n := stats[s][d.EventID][c.Channel]; n != 1 {
			t.Errorf("%s %s: the simulator made %d posts, want exactly 1", d.EventID, c.Channel, n)
		}
	}
}

// --------------------------------------------------------------------------- actions

// driver creates events, starts distributions and retries channels like a client would: through
// the JSON API of a web process with a bearer token made by `distribution token create`.
type driver struct {
	t     testing.TB
	base  string
	token string
}

func newDriver(t testing.TB, web *server, role model.Role) *driver {
	t.Helper()
	return &driver{t: t, base: web.base, token: proctest.CreateToken(t, binary, web.env, "systemtest-"+string(role), role)}
}

// call does one JSON API request against base and returns the status and body.
func (d *driver) call(base, method, path string, in any) (int, []byte) {
	d.t.Helper()
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			d.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, body)
	if err != nil {
		d.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	code, out, err := doHTTP(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	return code, out
}

func (d *driver) createEvent(id, title string) {
	d.t.Helper()
	code, body := d.call(d.base, http.MethodPost, "/api/v1/events", map[string]string{"id": id, "title": title, "storeName": "시스템 테스트 상점"})
	if code != http.StatusCreated {
		d.t.Fatalf("POST /api/v1/events %s: %d %s", id, code, body)
	}
}

func (d *driver) start(id string, chans []model.Channel) {
	d.t.Helper()
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = string(c)
	}
	code, body := d.call(d.base, http.MethodPost, "/api/v1/events/"+id+"/distribution", map[string][]string{"channels": names})
	if code != http.StatusAccepted {
		d.t.Fatalf("POST /api/v1/events/%s/distribution: %d %s", id, code, body)
	}
}

// retry retries one channel and returns the HTTP status and, for 202, the distribution answered.
func (d *driver) retry(id string, ch model.Channel) (int, *apiDistribution) {
	d.t.Helper()
	code, body := d.call(d.base, http.MethodPost, "/api/v1/events/"+id+"/distribution/channels/"+string(ch)+"/retry", nil)
	if code != http.StatusAccepted {
		return code, nil
	}
	var out apiDistribution
	if err := json.Unmarshal(body, &out); err != nil {
		d.t.Fatalf("retry answer: %v in %s", err, body)
	}
	return code, &out
}

// getDistribution reads GET /api/v1/events/{id}/distribution from the web process at base.
func (d *driver) getDistribution(base, id string) (int, *apiDistribution) {
	d.t.Helper()
	code, body := d.call(base, http.MethodGet, "/api/v1/events/"+id+"/distribution", nil)
	if code != http.StatusOK {
		return code, nil
	}
	var out apiDistribution
	if err := json.Unmarshal(body, &out); err != nil {
		d.t.Fatalf("GET distribution: %v in %s", err, body)
	}
	return code, &out
}

// apiDistribution is the contract's distribution JSON (DESIGN.md "JSON API").
type apiDistribution struct {
	EventID       string     `json:"eventId"`
	OverallStatus string     `json:"overallStatus"`
	StartedAt     time.Time  `json:"startedAt"`
	CompletedAt   *time.Time `json:"completedAt"`
	Channels      []struct {
		Channel     string     `json:"channel"`
		Status      string     `json:"status"`
		Progress    int        `json:"progress"`
		PostURL     *string    `json:"postUrl"`
		MessageID   *string    `json:"messageId"`
		Retries     int        `json:"retries"`
		LastRetryAt *time.Time `json:"lastRetryAt"`
		CompletedAt *time.Time `json:"completedAt"`
	} `json:"channels"`
}
