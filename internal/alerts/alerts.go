// Package alerts delivers failure alerts: when a channel ends FAILED or a distribution ends FAILED
// or PARTIAL_SUCCESS, the engine enqueues an alert_webhook River job, and this package's worker
// POSTs a Slack-compatible message ({"text", "blocks"}) with a deep link to the event and channel
// to the configured webhook. Delivery retries with exponential backoff; each POST has bounded
// timeouts, follows no redirects and may only reach public addresses (the channels package's SSRF
// guards). It imports model, channels and River only.
package alerts

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// Kind is the River job kind of an alert.
const Kind = "alert_webhook"

// Queue is the River queue alerts run on, apart from the publish jobs so a slow webhook never
// delays publishing.
const Queue = "alerts"

// Args is one alert: the channel whose finish triggered it (at its attempt generation), whether
// that channel failed, and the distribution's overall status when it has just become FAILED or
// PARTIAL_SUCCESS ("" otherwise). A channel finishes at most once per generation, so the unique
// key (every field but Error) makes a re-enqueue of the same alert a no-op, while a later failure
// after a manual retry (new generation) alerts again.
type Args struct {
	EventID       string              `json:"event_id" river:"unique"`
	Channel       model.Channel       `json:"channel" river:"unique"`
	Generation    int                 `json:"generation" river:"unique"`
	ChannelFailed bool                `json:"channel_failed" river:"unique"`
	Overall       model.OverallStatus `json:"overall,omitempty" river:"unique"`
	Error         string              `json:"error,omitempty"` // the channel's error message
}

// Kind implements river.JobArgs.
func (Args) Kind() string { return Kind }

// DefaultMaxAttempts is how often one alert is tried (about 20 minutes of backoff in all).
const DefaultMaxAttempts = 10

// InsertOpts puts alerts on their queue, unique by args (completed ones included).
func (Args) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: DefaultMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// For returns the alert a committed channel finish calls for, if any: the channel ended FAILED,
// or the distribution went from IN_PROGRESS (prev) to FAILED or PARTIAL_SUCCESS.
func For(ch model.ChannelState, prev model.OverallStatus, d model.Distribution) (Args, bool) {
	a := Args{EventID: ch.EventID, Channel: ch.Channel, Generation: ch.Generation, ChannelFailed: ch.Status == model.StatusFailed}
	if a.EventID == "" {
		a.EventID = d.EventID
	}
	if prev != d.OverallStatus && (d.OverallStatus == model.OverallFailed || d.OverallStatus == model.OverallPartialSuccess) {
		a.Overall = d.OverallStatus
	}
	if !a.ChannelFailed && a.Overall == "" {
		return Args{}, false
	}
	if ch.ErrorMessage != nil {
		a.Error = model.Truncate(*ch.ErrorMessage, 500)
	}
	return a, true
}

// EventFinder looks up an event's title for the message (db.DB); optional.
type EventFinder interface {
	FindEventByID(ctx context.Context, id string) (model.Event, error)
}

// Config configures the notifier. Zero fields take the defaults in brackets.
type Config struct {
	// WebhookURL receives the alerts: https, public address (checked here and at connect time).
	WebhookURL string
	// PublicURL is the dashboard's base URL for deep links (PUBLIC_URL) [http://127.0.0.1:8080].
	PublicURL string
	// Timeout bounds one POST, connect to last byte [10s].
	Timeout time.Duration
	// RetryBase is the first retry delay; it doubles per attempt (±20 %), capped at RetryMax [5s].
	RetryBase time.Duration
	RetryMax  time.Duration // [10m]
	// Events provides event titles; nil sends the id only.
	Events EventFinder
	Logger *slog.Logger
	// AllowInsecureLoopback permits http:// and loopback webhook URLs. Tests only: production
	// wiring never sets it, so a webhook can never be pointed at the service's own machine.
	AllowInsecureLoopback bool
}

// Notifier is the alert_webhook River worker.
type Notifier struct {
	river.WorkerDefaults[Args]
	cfg    Config
	url    string
	public *url.URL
	client *http.Client
	log    *slog.Logger
}

// New validates cfg and returns the notifier. An invalid WebhookURL or PublicURL is an error that
// names the variable, so a misconfigured service refuses to start.
func New(cfg Config) (*Notifier, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://127.0.0.1:8080"
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 10*time.Second)
	def(&cfg.RetryBase, 5*time.Second)
	def(&cfg.RetryMax, 10*time.Minute)
	hook, err := ValidateWebhookURL(cfg.WebhookURL, cfg.AllowInsecureLoopback)
	if err != nil {
		return nil, err
	}
	pub, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || (pub.Scheme != "http" && pub.Scheme != "https") || pub.Host == "" || pub.User != nil ||
		pub.RawQuery != "" || pub.Fragment != "" {
		return nil, fmt.Errorf("PUBLIC_URL: want the dashboard's base URL like https://dist.example.com, got %q", model.Truncate(cfg.PublicURL, 80))
	}
	return &Notifier{
		cfg:    cfg,
		url:    hook,
		public: pub,
		client: channels.NewOutboundClient(channels.OutboundOptions{
			ResponseHeaderTimeout: cfg.Timeout, AllowInsecureLoopback: cfg.AllowInsecureLoopback,
		}),
		log: cfg.Logger.With(slog.String("component", "alerts")),
	}, nil
}

// ValidateWebhookURL checks WEBHOOK_URL: https only, no credentials, no private, loopback or
// link-local target (allowInsecureLoopback: tests only).
func ValidateWebhookURL(raw string, allowInsecureLoopback bool) (string, error) {
	if strings.TrimSpace(raw) == "" {
		return "", errors.New("WEBHOOK_URL: empty")
	}
	u, err := channels.CheckOutboundURL(raw, allowInsecureLoopback)
	if err != nil {
		return "", fmt.Errorf("WEBHOOK_URL: %w", err)
	}
	return u, nil
}

// Register adds the worker to a River workers bundle (the engine's).
func (n *Notifier) Register(workers *river.Workers) error {
	if err := river.AddWorkerSafely(workers, n); err != nil {
		return err
	}
	return river.AddWorkerSafely(workers, &accountWorker{n: n}) // account.go
}

// Timeout bounds one job run: the POST plus a margin for the title lookup.
func (n *Notifier) Timeout(*river.Job[Args]) time.Duration { return n.cfg.Timeout + 5*time.Second }

// NextRetry backs off exponentially: RetryBase doubling per attempt, ±20 % jitter, capped.
func (n *Notifier) NextRetry(job *river.Job[Args]) time.Time {
	d := n.cfg.RetryBase
	for i := 1; i < job.Attempt && d < n.cfg.RetryMax; i++ {
		d *= 2
	}
	d = min(d, n.cfg.RetryMax)
	d = time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
	return time.Now().Add(d)
}

// Work sends one alert. A 2xx answer completes it; 5xx, 408, 429 and network failures are retried;
// any other answer (3xx: no redirects are followed; 4xx: the webhook refuses it) cancels it, as
// trying again cannot help.
func (n *Notifier) Work(ctx context.Context, job *river.Job[Args]) error {
	title := ""
	if n.cfg.Events != nil {
		ectx, cancel := context.WithTimeout(ctx, 3*time.Second)
		if e, err := n.cfg.Events.FindEventByID(ectx, job.Args.EventID); err == nil {
			title = e.Title
		}
		cancel()
	}
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // the text is already escaped for Slack; keep it readable
	if err := enc.Encode(n.Message(job.Args, title)); err != nil {
		return river.JobCancel(fmt.Errorf("encode alert: %w", err))
	}
	status, err := n.post(ctx, body.Bytes())
	log := n.log.With(slog.String("event_id", job.Args.EventID), slog.String("channel", string(job.Args.Channel)),
		slog.Int("attempt", job.Attempt))
	switch {
	case err != nil:
		log.Warn("alert delivery failed; will retry", slog.String("error", err.Error()))
		return err
	case status >= 200 && status < 300:
		log.Info("alert delivered", slog.Int("http_status", status))
		return nil
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		log.Warn("alert refused for now; will retry", slog.Int("http_status", status))
		return fmt.Errorf("webhook answered HTTP %d", status)
	default:
		log.Error("alert refused; not retrying", slog.Int("http_status", status))
		return river.JobCancel(fmt.Errorf("webhook answered HTTP %d", status))
	}
}

// post sends body and returns the HTTP status, reading at most 64 KB of the answer.
func (n *Notifier) post(ctx context.Context, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("build webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "distribution-service/1 (alerts)")
	res, err := n.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("post webhook: %w", err)
	}
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	return res.StatusCode, nil
}

// Message is the Slack-compatible payload: "text" for plain receivers and notifications, and
// "blocks" with the same content and a link button.
type Message struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is a Slack layout block (section or actions).
type Block struct {
	Type     string    `json:"type"`
	Text     *TextObj  `json:"text,omitempty"`
	Elements []Element `json:"elements,omitempty"`
}

// TextObj is a Slack text object.
type TextObj struct {
	Type string `json:"type"` // mrkdwn or plain_text
	Text string `json:"text"`
}

// Element is a Slack block element (a link button).
type Element struct {
	Type string   `json:"type"`
	Text *TextObj `json:"text,omitempty"`
	URL  string   `json:"url,omitempty"`
}

// DeepLink is the dashboard URL of the event, scrolled to the channel's card.
func (n *Notifier) DeepLink(eventID string, ch model.Channel) string {
	u := *n.public
	u.Path = strings.TrimRight(u.Path, "/") + "/events/" + eventID
	if ch != "" {
		u.Fragment = "ch-" + eventID + "-" + string(ch)
	}
	return u.String()
}

// Message builds the alert for a (title "" = unknown). Untrusted text (title, error) is escaped
// for Slack's mrkdwn, so it cannot ping @channel or forge links.
func (n *Notifier) Message(a Args, title string) Message {
	link := n.DeepLink(a.EventID, a.Channel)
	name := a.EventID
	if title != "" {
		name = model.Truncate(title, 200) + " (" + a.EventID + ")"
	}
	var head string
	switch a.Overall {
	case model.OverallFailed:
		head = "Distribution FAILED: " + name
	case model.OverallPartialSuccess:
		head = "Distribution PARTIAL_SUCCESS: " + name
	default:
		head = "Channel FAILED: " + name
	}
	var lines []string
	if a.ChannelFailed {
		l := fmt.Sprintf("%s (%s / %s) failed", a.Channel, a.Channel.Name("ko"), a.Channel.Name("en"))
		if a.Error != "" {
			l += ": " + a.Error
		}
		lines = append(lines, l)
	} else if a.Overall != "" {
		lines = append(lines, "some channels of this event failed; the others succeeded")
	}
	// Receivers read "text" as mrkdwn too (and notifications show it): escape it the same way.
	plain := escape(head) + "\n" + escape(strings.Join(lines, "\n")) + "\n" + link
	md := "*" + escape(head) + "*\n" + escape(strings.Join(lines, "\n")) + "\n<" + link + "|Open in the dashboard>"
	return Message{
		Text: plain,
		Blocks: []Block{
			{Type: "section", Text: &TextObj{Type: "mrkdwn", Text: md}},
			{Type: "actions", Elements: []Element{{Type: "button", Text: &TextObj{Type: "plain_text", Text: "Open event"}, URL: link}}},
		},
	}
}

// escape applies Slack's mrkdwn escaping: &, < and > are the only control characters.
func escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}
