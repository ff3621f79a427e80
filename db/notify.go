package db

// Principal-change notifications (RELIABILITY.md S6). Every statement that changes what a
// user may do — a role change, disabling, a password reset, ending sessions (logout) — also runs
// pg_notify(PrincipalChannel, <user id>) in its own transaction, so the notification is sent only
// when the change commits. Every web process listens, whichever replica made the change, and
// re-checks the live streams of that user at once instead of at its next periodic check.
// A notification is a hint to re-read the source of truth, never data.

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// PrincipalChannel is the LISTEN/NOTIFY channel of principal changes; the payload is the user id
// (revoking an API token notifies its owner's id, or minus the token id when it has no owner).
const PrincipalChannel = "principal_changed"

// ListenerAppName is the application_name of the listening connection (seen in pg_stat_activity).
const ListenerAppName = "distribution-principal-listener"

// notifyPrincipalSQL notifies the listeners that user $1 changed; run it inside the changing
// transaction.
const notifyPrincipalSQL = `SELECT pg_notify('` + PrincipalChannel + `', $1::bigint::text)`

func notifyPrincipalTx(ctx context.Context, tx pgx.Tx, userID int64) error {
	if _, err := tx.Exec(ctx, notifyPrincipalSQL, userID); err != nil {
		return fmt.Errorf("notify principal change: %w", err)
	}
	return nil
}

// Listener reconnect backoff: quick at first (a dropped connection usually comes straight back),
// bounded so a database that is down for long is not hammered.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// ListenPrincipalChanges calls fn with the id of every user whose principal changes, until ctx
// ends (then it returns nil). It holds one dedicated connection of its own (not one of the pool's:
// a LISTEN must outlive any one query), and reconnects with backoff when that connection drops.
// Notifications sent while it is disconnected are lost: the streams' periodic re-check covers that
// gap. fn runs on the listening goroutine and must not block.
func (db *DB) ListenPrincipalChanges(ctx context.Context, fn func(userID int64)) error {
	backoff := listenBackoffMin
	for {
		listened, err := db.listenOnce(ctx, fn)
		if ctx.Err() != nil {
			return nil
		}
		if listened {
			backoff = listenBackoffMin // it worked for a while: start the backoff over
		}
		db.logger.Warn("principal listener: connection lost, reconnecting",
			slog.Duration("backoff", backoff), slog.Any("error", err))
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, LISTENs and delivers notifications until the connection fails or ctx ends.
// listened reports whether the LISTEN succeeded.
func (db *DB) listenOnce(ctx context.Context, fn func(userID int64)) (listened bool, err error) {
	cfg := db.Session.Config().ConnConfig.Copy() // LISTEN needs a session: the direct URL
	cfg.RuntimeParams["application_name"] = ListenerAppName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, fmt.Errorf("connect: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+PrincipalChannel); err != nil {
		return false, fmt.Errorf("listen: %w", err)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return true, fmt.Errorf("wait for notification: %w", err)
		}
		id, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil || id == 0 { // negative: a token without owner (see PrincipalChannel)
			db.logger.Warn("principal listener: ignoring bad payload", slog.String("payload", n.Payload))
			continue
		}
		fn(id)
	}
}
