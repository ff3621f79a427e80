package db

// Stores and their channel accounts (issue 14). The db package never sees a key: the caller
// hands it a Sealer (internal/secrets.Keyring), and the credentials are encrypted before they
// are written and decrypted only for the engine (AccountCredentials). Reads for lists and pages
// (FindStores, FindChannelAccounts) never select the credentials column.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// Sealer encrypts and decrypts credentials bound to associated data (internal/secrets.Keyring).
type Sealer interface {
	Seal(plaintext, aad []byte) (sealed []byte, keyID string, err error)
	Open(sealed []byte, keyID string, aad []byte) ([]byte, error)
	CurrentKeyID() string
}

// ExpiringWithin is how close to its expiry an account is shown as expiring.
const ExpiringWithin = 7 * 24 * time.Hour

// accountAAD binds a ciphertext to its row: a value copied into another store's or channel's
// row does not decrypt.
func accountAAD(storeID string, ch model.Channel) []byte {
	return []byte("distribution/channel_accounts\x00" + storeID + "\x00" + string(ch))
}

// checkStoreID refuses an id that cannot name a store (the event-id rules) before SQL sees it.
func checkStoreID(id string) error {
	if !model.ValidEventID(id) {
		return model.Errorf(model.EINVALID, "store id must be 1 to 36 letters, digits, '_' or '-'")
	}
	return nil
}

// fillStoreName sets e.StoreName from the store e.StoreID names (nothing without one);
// EINVALID naming the store when it does not exist.
func fillStoreName(ctx context.Context, q querier, e *model.Event) error {
	if e.StoreID == "" {
		return nil
	}
	err := q.QueryRow(ctx, `SELECT name FROM stores WHERE id = $1`, e.StoreID).Scan(&e.StoreName)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Errorf(model.EINVALID, "store %q does not exist", e.StoreID)
	}
	if err != nil {
		return fmt.Errorf("find store %s: %w", e.StoreID, err)
	}
	return nil
}

// CreateStore validates and stores a new store with its audit entry (Action set here) in one
// transaction. EINVALID naming the field, ECONFLICT when the id is taken.
func (db *DB) CreateStore(ctx context.Context, s model.Store, audit model.AuditEntry) (model.Store, error) {
	s.Name = strings.TrimSpace(s.Name)
	if err := checkStoreID(s.ID); err != nil {
		return model.Store{}, err
	}
	if err := model.CheckLine("name", s.Name, maxStoreName); err != nil {
		return model.Store{}, err
	}
	if s.Name == "" {
		return model.Store{}, model.Errorf(model.EINVALID, "name is required")
	}
	out := model.Store{Accounts: []model.ChannelAccount{}}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO stores (id, name, created_by) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO NOTHING RETURNING id, name, created_by, created_at`, s.ID, s.Name, audit.Actor).
			Scan(&out.ID, &out.Name, &out.CreatedBy, &out.CreatedAt)
		if errors.Is(err, pgx.ErrNoRows) {
			return model.Errorf(model.ECONFLICT, "store %s already exists", s.ID)
		}
		if err != nil {
			return err
		}
		audit.Action, audit.Detail = model.AuditStoreCreate, "store "+out.ID
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.Store{}, wrapAction("create store", err)
	}
	return out, nil
}

// ListStores returns every store, by id, without its accounts (one query: the forms' store
// select, on every list and detail render).
func (db *DB) ListStores(ctx context.Context) ([]model.Store, error) {
	rows, err := db.Pool.Query(ctx, `SELECT id, name, created_by, created_at FROM stores ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("find stores: %w", err)
	}
	stores, err := pgx.CollectRows(rows, collectStore)
	if err != nil {
		return nil, fmt.Errorf("find stores: %w", err)
	}
	return stores, nil
}

// FindStores returns every store, by id, each with its accounts' public fields.
func (db *DB) FindStores(ctx context.Context) ([]model.Store, error) {
	stores, err := db.ListStores(ctx)
	if err != nil {
		return nil, err
	}
	accounts, err := db.FindChannelAccounts(ctx, "")
	if err != nil {
		return nil, err
	}
	byStore := map[string][]model.ChannelAccount{}
	for _, a := range accounts {
		byStore[a.StoreID] = append(byStore[a.StoreID], a)
	}
	for i := range stores {
		if acc := byStore[stores[i].ID]; acc != nil {
			stores[i].Accounts = acc
		}
	}
	return stores, nil
}

// FindStoreByID returns one store with its accounts' public fields; ENOTFOUND without it.
func (db *DB) FindStoreByID(ctx context.Context, id string) (model.Store, error) {
	if err := checkStoreID(id); err != nil {
		return model.Store{}, err
	}
	rows, err := db.Pool.Query(ctx, `SELECT id, name, created_by, created_at FROM stores WHERE id = $1`, id)
	if err != nil {
		return model.Store{}, fmt.Errorf("find store %s: %w", id, err)
	}
	s, err := pgx.CollectExactlyOneRow(rows, collectStore)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Store{}, model.Errorf(model.ENOTFOUND, "store %s not found", id)
	}
	if err != nil {
		return model.Store{}, fmt.Errorf("find store %s: %w", id, err)
	}
	if s.Accounts, err = db.FindChannelAccounts(ctx, id); err != nil {
		return model.Store{}, err
	}
	return s, nil
}

func collectStore(row pgx.CollectableRow) (model.Store, error) {
	s := model.Store{Accounts: []model.ChannelAccount{}}
	err := row.Scan(&s.ID, &s.Name, &s.CreatedBy, &s.CreatedAt)
	return s, err
}

// accountColumns are the public columns of channel_accounts: never credentials or key_id.
const accountColumns = `store_id, channel, account_ref, status, expires_at, last_error, connected_by, connected_at, updated_at`

func collectAccount(row pgx.CollectableRow) (model.ChannelAccount, error) {
	var a model.ChannelAccount
	err := row.Scan(&a.StoreID, &a.Channel, &a.AccountRef, &a.Status, &a.ExpiresAt, &a.LastError,
		&a.ConnectedBy, &a.ConnectedAt, &a.UpdatedAt)
	return a, err
}

// FindChannelAccounts lists the accounts of storeID ("" = every store), public fields only, by
// store then channel display order.
func (db *DB) FindChannelAccounts(ctx context.Context, storeID string) ([]model.ChannelAccount, error) {
	rows, err := db.Pool.Query(ctx, `SELECT `+accountColumns+` FROM channel_accounts cs
		WHERE $1 = '' OR store_id = $1
		ORDER BY store_id, `+channelOrder, storeID)
	if err != nil {
		return nil, fmt.Errorf("find channel accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, collectAccount)
	if err != nil {
		return nil, fmt.Errorf("find channel accounts: %w", err)
	}
	return out, nil
}

// accountStatusAt is the status of freshly set credentials: expiring within ExpiringWithin of
// their expiry, connected otherwise.
func accountStatusAt(expires *time.Time, now time.Time) model.AccountStatus {
	if expires != nil && expires.Sub(now) < ExpiringWithin {
		return model.AccountExpiring
	}
	return model.AccountConnected
}

// SetChannelAccount connects (or replaces) storeID's account on c.Channel: the credentials are
// sealed with s, bound to the row, and the audit entry (Action, Channel and a Detail with the
// store and account ref, never the credentials) is written in the same transaction. Credentials
// already expired are refused. Errors: EINVALID, ENOTFOUND (store).
func (db *DB) SetChannelAccount(ctx context.Context, storeID string, c model.Credentials, s Sealer, audit model.AuditEntry) (model.ChannelAccount, error) {
	if err := checkStoreID(storeID); err != nil {
		return model.ChannelAccount{}, err
	}
	if !model.AccountChannel(c.Channel) || c.AccountRef == "" || len(c.Secret) == 0 {
		return model.ChannelAccount{}, model.Errorf(model.EINVALID, "credentials of channel %s are not valid", c.Channel)
	}
	sealed, keyID, err := s.Seal(c.Secret, accountAAD(storeID, c.Channel))
	if err != nil {
		return model.ChannelAccount{}, fmt.Errorf("encrypt credentials: %w", err)
	}
	var out model.ChannelAccount
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var (
			exists bool
			now    time.Time // the database's clock, as every business time (RELIABILITY C1)
		)
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM stores WHERE id = $1 FOR KEY SHARE), now()`, storeID).Scan(&exists, &now); err != nil {
			return err
		}
		if !exists {
			return model.Errorf(model.ENOTFOUND, "store %s not found", storeID)
		}
		if c.ExpiresAt != nil && !c.ExpiresAt.After(now) {
			return model.Errorf(model.EINVALID, "expiresAt %s is in the past: the token has expired", c.ExpiresAt.UTC().Format(time.RFC3339))
		}
		rows, err := tx.Query(ctx, `INSERT INTO channel_accounts AS a (store_id, channel, account_ref, credentials, key_id,
				expires_at, status, last_error, connected_by, connected_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, now(), now())
			ON CONFLICT (store_id, channel) DO UPDATE SET account_ref = EXCLUDED.account_ref,
				credentials = EXCLUDED.credentials, key_id = EXCLUDED.key_id, expires_at = EXCLUDED.expires_at,
				status = EXCLUDED.status, last_error = '', connected_by = EXCLUDED.connected_by,
				connected_at = now(), updated_at = now()
			RETURNING `+accountColumns,
			storeID, string(c.Channel), c.AccountRef, sealed, keyID, c.ExpiresAt, string(accountStatusAt(c.ExpiresAt, now)), audit.Actor)
		if err != nil {
			return err
		}
		if out, err = pgx.CollectExactlyOneRow(rows, collectAccount); err != nil {
			return err
		}
		if audit.Action == "" { // the CLI's `account set`; the stores pages say connect or reconnect
			audit.Action = model.AuditAccountSet
		}
		audit.Channel = string(c.Channel)
		audit.Detail = "store " + storeID + ", account " + c.AccountRef + ", " + string(out.Status)
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.ChannelAccount{}, wrapAction("set channel account", err)
	}
	return out, nil
}

// AccountCredentials returns the decrypted credential JSON of storeID's account on ch, with its
// public fields, for the engine. ENOTFOUND without an account; an error when it cannot be
// decrypted (wrong key, tampered, copied from another row).
func (db *DB) AccountCredentials(ctx context.Context, storeID string, ch model.Channel, s Sealer) ([]byte, model.ChannelAccount, error) {
	if err := checkStoreID(storeID); err != nil {
		return nil, model.ChannelAccount{}, err
	}
	var (
		a      model.ChannelAccount
		sealed []byte
		keyID  string
	)
	err := db.Pool.QueryRow(ctx, `SELECT `+accountColumns+`, credentials, key_id FROM channel_accounts
		WHERE store_id = $1 AND channel = $2`, storeID, string(ch)).
		Scan(&a.StoreID, &a.Channel, &a.AccountRef, &a.Status, &a.ExpiresAt, &a.LastError,
			&a.ConnectedBy, &a.ConnectedAt, &a.UpdatedAt, &sealed, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, model.ChannelAccount{}, model.Errorf(model.ENOTFOUND, "store %s has no %s account", storeID, ch)
	}
	if err != nil {
		return nil, model.ChannelAccount{}, fmt.Errorf("find %s account of store %s: %w", ch, storeID, err)
	}
	secret, err := s.Open(sealed, keyID, accountAAD(a.StoreID, a.Channel))
	if err != nil {
		return nil, model.ChannelAccount{}, fmt.Errorf("decrypt %s credentials of store %s (key %s): %w", ch, storeID, keyID, err)
	}
	return secret, a, nil
}

// RotateAccountCredentials re-encrypts under s's current key every credential written under
// another key (SECRETS_KEY_PREVIOUS during a rotation) and returns how many it moved. Each row
// is locked, decrypted and rewritten in its own transaction; a row that cannot be decrypted
// stops the rotation with an error naming it (rows moved before it stay moved).
func (db *DB) RotateAccountCredentials(ctx context.Context, s Sealer) (int, error) {
	rows, err := db.Pool.Query(ctx, `SELECT store_id, channel FROM channel_accounts WHERE key_id <> $1 ORDER BY store_id, channel`, s.CurrentKeyID())
	if err != nil {
		return 0, fmt.Errorf("find credentials to rotate: %w", err)
	}
	type rowKey struct {
		store   string
		channel model.Channel
	}
	keys, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (rowKey, error) {
		var k rowKey
		err := row.Scan(&k.store, &k.channel)
		return k, err
	})
	if err != nil {
		return 0, fmt.Errorf("find credentials to rotate: %w", err)
	}
	moved := 0
	for _, k := range keys {
		err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
			var (
				sealed []byte
				keyID  string
			)
			err := tx.QueryRow(ctx, `SELECT credentials, key_id FROM channel_accounts WHERE store_id = $1 AND channel = $2 FOR UPDATE`,
				k.store, string(k.channel)).Scan(&sealed, &keyID)
			if errors.Is(err, pgx.ErrNoRows) || keyID == s.CurrentKeyID() {
				return nil // gone or rotated meanwhile
			}
			if err != nil {
				return err
			}
			aad := accountAAD(k.store, k.channel)
			plain, err := s.Open(sealed, keyID, aad)
			if err != nil {
				return fmt.Errorf("decrypt (key %s): %w", keyID, err)
			}
			resealed, newID, err := s.Seal(plain, aad)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE channel_accounts SET credentials = $3, key_id = $4, updated_at = now()
				WHERE store_id = $1 AND channel = $2`, k.store, string(k.channel), resealed, newID); err != nil {
				return err
			}
			moved++
			return nil
		})
		if err != nil {
			return moved, fmt.Errorf("rotate %s credentials of store %s: %w", k.channel, k.store, err)
		}
	}
	return moved, nil
}

// AttachEventToStore puts event id, when it has no store yet, in store storeID (its store_name
// becomes the store's name), started or not: `seed` uses it to bring demo events created before
// stores existed into their stores. It reports whether the event changed.
func (db *DB) AttachEventToStore(ctx context.Context, id, storeID string) (bool, error) {
	tag, err := db.Pool.Exec(ctx, `UPDATE events e SET store_id = s.id, store_name = s.name, updated_at = now()
		FROM stores s WHERE e.id = $1 AND s.id = $2 AND e.store_id IS NULL`, id, storeID)
	if err != nil {
		return false, fmt.Errorf("attach event %s to store %s: %w", id, storeID, err)
	}
	return tag.RowsAffected() == 1, nil
}
