package alerts

// Account alerts (issue 14 point 7): when the token upkeep finds a store account's token dead,
// the engine inserts an account_webhook job in the transaction that marks the account
// needs_reconnect, and this worker POSTs the same Slack-compatible message as the failure
// alerts (same webhook, timeouts, SSRF guards, retries), with "event": "account.needs_reconnect"
// and a deep link to the store's page, where a manager reconnects it.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"github.com/marketing-platform/distribution/internal/model"
)

// AccountKind is the River job kind of an account alert.
const AccountKind = "account_webhook"

// EventAccountNeedsReconnect is the "event" field of an account alert.
const EventAccountNeedsReconnect = "account.needs_reconnect"

// AccountArgs is one account alert. Since is when the account was marked (the database's
// clock): the unique key makes a re-enqueue of the same marking a no-op, while the account
// failing again after a reconnect alerts again.
type AccountArgs struct {
	StoreID string        `json:"store_id" river:"unique"`
	Channel model.Channel `json:"channel" river:"unique"`
	Since   time.Time     `json:"since" river:"unique"`
	Error   string        `json:"error,omitempty"` // the platform's words, never a credential
}

// Kind implements river.JobArgs.
func (AccountArgs) Kind() string { return AccountKind }

// InsertOpts puts account alerts on the alerts queue, unique by args.
func (AccountArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: DefaultMaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AccountMessage is an account alert's payload: the failure alerts' Message with the event type.
type AccountMessage struct {
	Event string `json:"event"`
	Message
}

// accountWorker delivers account alerts with the notifier's webhook client and policies.
type accountWorker struct {
	river.WorkerDefaults[AccountArgs]
	n *Notifier
}

func (w *accountWorker) Timeout(*river.Job[AccountArgs]) time.Duration {
	return w.n.cfg.Timeout + 5*time.Second
}

// NextRetry backs off as the failure alerts do.
func (w *accountWorker) NextRetry(job *river.Job[AccountArgs]) time.Time {
	return w.n.NextRetry(&river.Job[Args]{JobRow: job.JobRow})
}

// Work sends one account alert; the answers are handled as Notifier.Work handles them.
func (w *accountWorker) Work(ctx context.Context, job *river.Job[AccountArgs]) error {
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w.n.AccountMessage(job.Args)); err != nil {
		return river.JobCancel(fmt.Errorf("encode account alert: %w", err))
	}
	status, err := w.n.post(ctx, body.Bytes())
	log := w.n.log.With(slog.String("store_id", job.Args.StoreID), slog.String("channel", string(job.Args.Channel)),
		slog.Int("attempt", job.Attempt))
	switch {
	case err != nil:
		log.Warn("account alert delivery failed; will retry", slog.String("error", err.Error()))
		return err
	case status >= 200 && status < 300:
		log.Info("account alert delivered", slog.Int("http_status", status))
		return nil
	case status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests:
		log.Warn("account alert refused for now; will retry", slog.Int("http_status", status))
		return fmt.Errorf("webhook answered HTTP %d", status)
	default:
		log.Error("account alert refused; not retrying", slog.Int("http_status", status))
		return river.JobCancel(fmt.Errorf("webhook answered HTTP %d", status))
	}
}

// StoreLink is the dashboard URL of a store's page (/stores/{id}), absolute on PUBLIC_URL.
func (n *Notifier) StoreLink(storeID string) string {
	u := *n.public
	u.Path = strings.TrimRight(u.Path, "/") + "/stores/" + storeID
	return u.String()
}

// AccountMessage builds the alert of an account that needs reconnecting. Untrusted text (the
// platform's error) is escaped for Slack's mrkdwn.
func (n *Notifier) AccountMessage(a AccountArgs) AccountMessage {
	link := n.StoreLink(a.StoreID)
	head := fmt.Sprintf("Channel account needs reconnecting: store %s, %s (%s / %s)", a.StoreID, a.Channel, a.Channel.Name("ko"), a.Channel.Name("en"))
	line := "the access token could not be renewed; publishing to this channel fails until a manager reconnects the account"
	if a.Error != "" {
		line += ": " + model.Truncate(a.Error, 500)
	}
	plain := escape(head) + "\n" + escape(line) + "\n" + link
	md := "*" + escape(head) + "*\n" + escape(line) + "\n<" + link + "|Open the store>"
	return AccountMessage{Event: EventAccountNeedsReconnect, Message: Message{
		Text: plain,
		Blocks: []Block{
			{Type: "section", Text: &TextObj{Type: "mrkdwn", Text: md}},
			{Type: "actions", Elements: []Element{{Type: "button", Text: &TextObj{Type: "plain_text", Text: "Reconnect"}, URL: link}}},
		},
	}}
}
