package db

// Editing, duplicating and deleting events (DESIGN.md "Added contracts": PATCH, duplicate,
// DELETE). An event can be edited or deleted only while it has no distribution. The start
// (startSQL) locks the event row FOR SHARE before it inserts the distribution; edits and deletes
// lock it FOR UPDATE and then look for a distribution in a later statement of the same
// transaction, so whichever comes second sees the first: a start waiting behind a delete finds
// no event (404), an edit or delete waiting behind a start finds its distribution (409).

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// CreateEventAudited is CreateEvent with its audit entry (Action and EventID set here) written
// in the same transaction: an event never exists without the record of who created it.
func (db *DB) CreateEventAudited(ctx context.Context, e model.Event, audit model.AuditEntry) (model.Event, error) {
	var out model.Event
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var err error
		if out, err = createEventTx(ctx, tx, e, audit.Actor); err != nil {
			return err
		}
		audit.Action, audit.EventID = model.AuditEventCreate, out.ID
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.Event{}, wrapAction("create event", err)
	}
	return out, nil
}

// errStarted is the answer to editing or deleting an event whose distribution has started.
func errStarted(id string) error {
	return model.Errork(model.ESTARTED, "err.already_started", "event %s has started its distribution and can no longer be changed", id)
}

// lockUnstartedEvent locks event id FOR UPDATE and returns it; ENOTFOUND without it, ESTARTED
// when it has a distribution.
func lockUnstartedEvent(ctx context.Context, tx pgx.Tx, id string) (model.Event, error) {
	rows, err := tx.Query(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.id = $1 FOR UPDATE`, id)
	if err != nil {
		return model.Event{}, fmt.Errorf("lock event: %w", err)
	}
	e, err := pgx.CollectExactlyOneRow(rows, collectEvent)
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Event{}, eventNotFound(id)
	}
	if err != nil {
		return model.Event{}, fmt.Errorf("lock event: %w", err)
	}
	var started bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM distribution_status WHERE event_id = $1)`, id).Scan(&started); err != nil {
		return model.Event{}, fmt.Errorf("look for a distribution: %w", err)
	}
	if started {
		return model.Event{}, errStarted(id)
	}
	return e, nil
}

// UpdateEvent applies patch to event id while it has not started, validated as CreateEvent
// validates, and records audit (Action, EventID and a Detail naming the changed fields are set
// here) in the same transaction. Errors: EINVALID, ENOTFOUND, ESTARTED.
func (db *DB) UpdateEvent(ctx context.Context, id string, patch model.EventPatch, audit model.AuditEntry) (model.Event, error) {
	if err := checkEventID(id); err != nil {
		return model.Event{}, err
	}
	var out model.Event
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		before, err := lockUnstartedEvent(ctx, tx, id)
		if err != nil {
			return err
		}
		after := patch.Apply(before)
		after.ID = ""
		if err := normalizeEvent(&after); err != nil {
			return err
		}
		if err := fillStoreName(ctx, tx, &after); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE events AS e SET title = $2, description = $3, image_url = $4, store_name = $5,
				store_id = NULLIF($6, '')
			WHERE e.id = $1 RETURNING `+eventColumns, id, after.Title, after.Description, after.ImageURL, after.StoreName, after.StoreID)
		if err != nil {
			return fmt.Errorf("update event: %w", err)
		}
		if out, err = pgx.CollectExactlyOneRow(rows, collectEvent); err != nil {
			return fmt.Errorf("update event: %w", err)
		}
		audit.Action, audit.EventID = model.AuditEventUpdate, id
		audit.Detail = changedFields(before, out)
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.Event{}, wrapAction("update event "+id, err)
	}
	return out, nil
}

// changedFields names the fields that differ between two versions of an event (the audit
// detail: the values themselves may be long or personal).
func changedFields(a, b model.Event) string {
	var out string
	for _, f := range []struct {
		name string
		same bool
	}{{"title", a.Title == b.Title}, {"description", a.Description == b.Description},
		{"imageUrl", a.ImageURL == b.ImageURL}, {"storeName", a.StoreName == b.StoreName},
		{"storeId", a.StoreID == b.StoreID}} {
		if !f.same {
			if out != "" {
				out += ", "
			}
			out += f.name
		}
	}
	if out == "" {
		return "no change"
	}
	return "changed: " + out
}

// DuplicateEvent copies event id (title, description, image URL, store name) into a new event
// with a new id and no distribution or schedule, created by audit.Actor, and records audit on
// the copy in the same transaction. Any event can be copied, started or not. ENOTFOUND without
// the event.
func (db *DB) DuplicateEvent(ctx context.Context, id string, audit model.AuditEntry) (model.Event, error) {
	if err := checkEventID(id); err != nil {
		return model.Event{}, err
	}
	var out model.Event
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `INSERT INTO events AS e (id, title, description, image_url, store_name, created_by, store_id)
			SELECT $2, title, description, image_url, store_name, $3, store_id FROM events WHERE id = $1
			RETURNING `+eventColumns, id, newEventID(), audit.Actor)
		if err != nil {
			return fmt.Errorf("copy event: %w", err)
		}
		out, err = pgx.CollectExactlyOneRow(rows, collectEvent)
		if errors.Is(err, pgx.ErrNoRows) {
			return eventNotFound(id)
		}
		if err != nil {
			return fmt.Errorf("copy event: %w", err)
		}
		audit.Action, audit.EventID, audit.Detail = model.AuditEventDuplicate, out.ID, "copy of "+id
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return model.Event{}, wrapAction("duplicate event "+id, err)
	}
	return out, nil
}

// DeleteEvent deletes event id while it has not started (its schedule goes with it) and records
// audit, with the deleted title, in the same transaction. Errors: ENOTFOUND, ESTARTED.
func (db *DB) DeleteEvent(ctx context.Context, id string, audit model.AuditEntry) error {
	if err := checkEventID(id); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		e, err := lockUnstartedEvent(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM events WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete event: %w", err)
		}
		audit.Action, audit.EventID = model.AuditEventDelete, id
		audit.Detail = "title: " + model.Truncate(e.Title, 200)
		return addAuditTx(ctx, tx, audit)
	})
	if err != nil {
		return wrapAction("delete event "+id, err)
	}
	return nil
}
