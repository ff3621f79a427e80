package engine

// Store accounts for the protocols that publish as a store (issue 14, instagram-graph): the job
// loads the event's store's account for its channel and hands it to the adapter with a durable
// checkpoint; an account whose token is dead (channels.NeedsReconnect) is marked and the channel
// fails at once; a manual retry is refused while the account still needs reconnecting.
//
// The start and the retries check the account first (preflight.go): a channel without a usable
// account is refused up front instead of failing at its first attempt.

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// needsAccount reports whether adapter publishes as a store's account.
func needsAccount(adapter channels.Adapter) bool {
	a, ok := adapter.(channels.AccountAdapter)
	return ok && a.NeedsAccount()
}

// accountOptional reports whether adapter also publishes without an account (the embedded
// simulator's routes, channels.OptionalAccountAdapter): an event without a store or without an
// account row for the channel is then no refusal, and the adapter publishes its own way.
func accountOptional(adapter channels.Adapter) bool {
	a, ok := adapter.(channels.OptionalAccountAdapter)
	return ok && a.AccountOptional()
}

// attachAccount puts the event's store's account and a checkpoint into req when the adapter's
// protocol needs them. A nil error with req.Account nil means there is no account (the adapter
// then fails with its own words, or publishes without one when the account is optional); a
// disconnected account of an optional-account adapter is a permanent failure, never "no
// account"; an error is database or key trouble (retried).
func (e *Engine) attachAccount(ctx context.Context, adapter channels.Adapter, run db.ChannelRun, req *channels.Request) *channels.Error {
	if !needsAccount(adapter) {
		return nil
	}
	req.Checkpoint = &checkpoint{store: e.store, channelStatusID: run.State.ID, key: req.IdempotencyKey}
	if e.sealer == nil {
		return &channels.Error{Kind: channels.Permanent, Message: "channel credentials cannot be read: no secrets key is configured (SECRETS_KEY)"}
	}
	if run.Event.StoreID == "" {
		// No store (the claim read the event's store): no account, without asking the database
		// again. The adapter says so, or publishes without one when the account is optional.
		return nil
	}
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	secret, acct, ok, err := e.store.EventAccount(cctx, run.Event.ID, run.State.Channel, e.sealer)
	if err != nil {
		return &channels.Error{Kind: channels.Temporary, Message: "could not read the store's channel account", Detail: err.Error()}
	}
	switch {
	case ok && acct.Status == model.AccountDisconnected && accountOptional(adapter):
		// An account that exists is used or refused, never replaced by the fallback.
		return &channels.Error{Kind: channels.Permanent, Message: fmt.Sprintf("the store's %s account is disconnected: connect it again", channelName(run.State.Channel)),
			Detail: "account status disconnected"}
	case !ok || acct.Status == model.AccountDisconnected:
		return nil // the adapter says "no connected ... account for this store", or publishes without one
	case acct.Status == model.AccountNeedsReconnect:
		return &channels.Error{Kind: channels.NeedsReconnect, Message: fmt.Sprintf("the store's %s account must be reconnected before publishing", channelName(run.State.Channel)),
			Detail: "account status needs_reconnect: " + acct.LastError}
	}
	req.Account = &channels.Account{StoreID: acct.StoreID, Ref: acct.AccountRef, Credentials: secret,
		SaveCredentials: func(ctx context.Context, creds []byte, expiresAt *time.Time) error {
			cctx, cancel := dbCtx(ctx)
			defer cancel()
			return e.store.UpdateAccountCredentials(cctx, acct.StoreID, run.State.Channel, creds, expiresAt, acct.UpdatedAt, e.sealer)
		}}
	return nil
}

func channelName(ch model.Channel) string {
	switch ch {
	case model.ChannelInstagram:
		return "Instagram"
	case model.ChannelNaver:
		return "Naver Cafe"
	case model.ChannelKakao:
		return "KakaoTalk channel"
	}
	return string(ch)
}

// markNeedsReconnect marks the store's account on ch needs_reconnect with the platform's words
// (the account alert goes with it, once per marking) and logs msg, or why it could not.
func (e *Engine) markNeedsReconnect(ctx context.Context, log *slog.Logger, storeID string, ch model.Channel, ce *channels.Error, msg string) {
	if err := e.store.MarkAccountNeedsReconnectThen(ctx, storeID, ch, ce.Error(), e.accountAlertTx); err != nil {
		log.WarnContext(ctx, "could not mark the account as needing a reconnect", slog.String("error", err.Error()))
		return
	}
	log.WarnContext(ctx, msg, slog.String("error", ce.Error()))
}

// finishNeedsReconnect marks the account needs_reconnect with the platform's words and fails the
// channel at once: no automatic retry can bring a dead token back.
func (e *Engine) finishNeedsReconnect(ctx context.Context, log *slog.Logger, run db.ChannelRun, req channels.Request, ce *channels.Error, start time.Time) error {
	if req.Account != nil {
		cctx, cancel := dbCtx(ctx)
		e.markNeedsReconnect(cctx, log.With(slog.String("store_id", req.Account.StoreID)), req.Account.StoreID, run.State.Channel, ce,
			"channel account needs reconnecting")
		cancel()
	}
	prefix := ""
	if req.Account != nil {
		// The card reads the store from the message to link managers to its page (model.ReconnectStore).
		prefix = model.ReconnectPrefix(req.Account.StoreID)
	}
	return e.finishFailed(ctx, log, run, ce, prefix, start)
}

// checkRetryAccount refuses a manual retry of a channel the pre-flight check refuses
// (preflight.go): 409 needs_reconnect while the store's account still needs reconnecting, else
// the *model.UnavailableError (no store, no account, expired, no https image, quota used up).
func (e *Engine) checkRetryAccount(ctx context.Context, eventID string, ch model.Channel) error {
	if !needsAccount(e.adapters(ch)) {
		return nil
	}
	checks, err := e.Preflight(ctx, eventID, []model.Channel{ch})
	if err != nil {
		if model.ErrorCode(err) == model.ENOTFOUND {
			return nil // the retry answers it
		}
		return err
	}
	switch c := checks[0]; {
	case c.OK:
		return nil
	case c.Reason == model.PreflightNeedsReconnect:
		return model.Errork(model.ENEEDSRECONNECT, "err.needs_reconnect",
			"the store's %s account must be reconnected before %s can be retried", channelName(ch), ch)
	default:
		return &model.UnavailableError{Checks: checks}
	}
}

// checkpoint is a channels.Checkpoint on publish_checkpoints.
type checkpoint struct {
	store           *db.DB
	channelStatusID int64
	key             string
}

func (c *checkpoint) Load(ctx context.Context) (string, error) {
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	return c.store.LoadCheckpoint(cctx, c.channelStatusID, c.key)
}

func (c *checkpoint) Save(ctx context.Context, v string) error {
	cctx, cancel := dbCtx(ctx)
	defer cancel()
	return c.store.SaveCheckpoint(cctx, c.channelStatusID, c.key, v)
}
