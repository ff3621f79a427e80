package engine

// Token upkeep (issue 14 point 7). Every worker process runs an upkeep loop, as it runs the
// scheduler: each pass marks the accounts near their expiry as expiring, then offers every
// account of a channel whose adapter renews tokens (channels.TokenRefresher: instagram-graph,
// naver-cafe) to db.UpkeepAccount, which locks it with SKIP LOCKED and records that it was
// looked at, so any number of replicas renew each account once per interval and never two at
// once. The adapter decides whether the token is due (Instagram: at least 24 h old and within
// 7 days of its expiry; Naver: within 10 minutes of the access token's expiry) and renews it.
//
//   - renewed: the credentials are stored sealed, with the new expiry, status connected,
//     audited as "system";
//   - the platform says the token is dead (Instagram 190, Naver 401/024/invalid_grant):
//     needs_reconnect with the platform's words, and the account_webhook alert (a link to
//     /stores/{id}) inserted in the same transaction;
//   - anything else (5xx, timeout, throttling): nothing changes; the next pass tries again.

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/db"
	"github.com/marketing-platform/distribution/internal/alerts"
	"github.com/marketing-platform/distribution/internal/channels"
	"github.com/marketing-platform/distribution/internal/model"
)

// upkeepBatch bounds the accounts one pass looks at (the rest wait for the next pass).
const upkeepBatch = 200

// refreshTimeout bounds one renewal, the account's row lock included.
const refreshTimeout = 30 * time.Second

// UpkeepStats counts what one TokenUpkeep pass did.
type UpkeepStats struct {
	Refreshed, NeedsReconnect, Failed, Skipped int
}

// upkeep runs the token upkeep and the views measurement of one engine.
type upkeep struct {
	e        *Engine
	interval time.Duration
	loop     loop
}

// Start runs a pass every interval, the first one interval after the start (tokens are
// renewed days or minutes ahead: a restart need not hurry), until Stop.
func (u *upkeep) Start(ctx context.Context) {
	u.loop.start(ctx, func(ctx context.Context) {
		t := time.NewTimer(u.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if _, err := u.e.TokenUpkeep(ctx); err != nil && ctx.Err() == nil {
				u.e.log.Warn("token upkeep pass failed", slog.String("error", err.Error()))
			}
			if _, err := u.e.MeasureViews(ctx); err != nil && ctx.Err() == nil {
				u.e.log.Warn("views measurement pass failed", slog.String("error", err.Error()))
			}
			t.Reset(u.interval)
		}
	})
}

// Stop ends the loop and waits for a running pass.
func (u *upkeep) Stop() { u.loop.stop() }

// refreshers returns the channels whose adapters renew tokens.
func (e *Engine) refreshers() map[model.Channel]channels.TokenRefresher {
	out := map[model.Channel]channels.TokenRefresher{}
	for _, ch := range model.AllChannels {
		if r, ok := e.adapters(ch).(channels.TokenRefresher); ok {
			out[ch] = r
		}
	}
	return out
}

// TokenUpkeep runs one upkeep pass (see the file comment) and returns what it did.
func (e *Engine) TokenUpkeep(ctx context.Context) (UpkeepStats, error) {
	var st UpkeepStats
	if n, err := e.store.MarkExpiringAccounts(ctx); err != nil {
		return st, err
	} else if n > 0 {
		e.log.Info("channel accounts near their expiry marked", slog.Int("accounts", n))
	}
	refs := e.refreshers()
	if len(refs) == 0 || e.sealer == nil {
		return st, nil
	}
	chans := make([]model.Channel, 0, len(refs))
	for ch := range refs {
		chans = append(chans, ch)
	}
	keys, err := e.store.UpkeepCandidates(ctx, chans, e.cfg.UpkeepInterval, upkeepBatch)
	if err != nil {
		return st, err
	}
	var lastErr error
	for _, k := range keys {
		if ctx.Err() != nil {
			return st, ctx.Err()
		}
		out, claimed, err := e.upkeepOne(ctx, k, refs[k.Channel])
		switch {
		case err != nil:
			lastErr = err
			e.log.Warn("token upkeep of an account failed", slog.String("store_id", k.StoreID), slog.String("channel", string(k.Channel)),
				slog.String("error", err.Error()))
			continue
		case !claimed:
			continue
		}
		log := e.log.With(slog.String("store_id", k.StoreID), slog.String("channel", string(k.Channel)))
		switch out.Kind {
		case db.UpkeepRefreshed:
			st.Refreshed++
			e.metrics.upkeep.WithLabelValues(string(k.Channel), "refreshed").Inc()
			log.Info("channel account token renewed")
		case db.UpkeepNeedsReconnect:
			st.NeedsReconnect++
			e.metrics.upkeep.WithLabelValues(string(k.Channel), "needs_reconnect").Inc()
			log.Warn("channel account needs reconnecting: its token could not be renewed", slog.String("error", out.Error))
		case db.UpkeepFailed:
			st.Failed++
			e.metrics.upkeep.WithLabelValues(string(k.Channel), "refresh_failed").Inc()
			log.Warn("channel account token renewal failed; trying again next pass", slog.String("error", out.Error))
		default:
			st.Skipped++
		}
	}
	return st, lastErr
}

// upkeepOne offers one account to its adapter with the row locked.
func (e *Engine) upkeepOne(ctx context.Context, k db.AccountKey, r channels.TokenRefresher) (db.UpkeepOutcome, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, refreshTimeout)
	defer cancel()
	decide := func(ctx context.Context, a db.UpkeepAccount) db.UpkeepOutcome {
		if !r.RefreshDue(a.Secret, a.TokenIssuedAt, a.ExpiresAt, a.Now) {
			return db.UpkeepOutcome{Kind: db.UpkeepSkipped}
		}
		res, cerr := r.RefreshToken(ctx, channels.Account{StoreID: a.StoreID, Ref: a.AccountRef, Credentials: a.Secret})
		switch {
		case cerr == nil:
			return db.UpkeepOutcome{Kind: db.UpkeepRefreshed, Credentials: res.Credentials, ExpiresAt: res.ExpiresAt}
		case cerr.Kind == channels.NeedsReconnect:
			return db.UpkeepOutcome{Kind: db.UpkeepNeedsReconnect, Error: cerr.Error()}
		}
		return db.UpkeepOutcome{Kind: db.UpkeepFailed, Error: cerr.Error()}
	}
	return e.store.UpkeepAccount(ctx, k, e.cfg.UpkeepInterval, e.sealer, decide, e.accountAlertTx)
}

// accountAlertTx inserts the account_webhook alert in the transaction that marks the account
// needs_reconnect, under a savepoint: an insert that fails is logged and the status commits.
func (e *Engine) accountAlertTx(ctx context.Context, tx pgx.Tx, a model.ChannelAccount, lastError string) error {
	if e.cfg.Alerts == nil {
		return nil
	}
	var since time.Time
	if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&since); err != nil {
		return err
	}
	args := alerts.AccountArgs{StoreID: a.StoreID, Channel: a.Channel, Since: since.UTC(), Error: model.SanitizeLine(lastError, 500)}
	if err := e.insertInSavepoint(ctx, tx, args); err != nil {
		e.log.Error("enqueue account alert", slog.String("store_id", a.StoreID), slog.String("channel", string(a.Channel)),
			slog.String("error", err.Error()))
	}
	return nil
}
