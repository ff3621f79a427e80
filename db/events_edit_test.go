package db_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/marketing-platform/distribution/internal/model"
	"github.com/marketing-platform/distribution/internal/testkit/dbtest"
)

func strp(s string) *string { return &s }

// Edit, duplicate and delete of an event that has not started; each audited; 409 (ESTARTED)
// once it has a distribution; hostile text refused as CreateEvent refuses it.
func TestEventEditDuplicateDelete(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev1", "Spring sale")
	audit := model.AuditEntry{Actor: "m@x", IP: "192.0.2.1"}

	e, err := d.UpdateEvent(ctx, "ev1", model.EventPatch{Title: strp("  Summer sale "), Description: strp("a\r\nb")}, audit)
	if err != nil {
		t.Fatal(err)
	}
	if e.Title != "Summer sale" || e.Description != "a\nb" || e.StoreName != "" {
		t.Errorf("updated = %+v", e)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'event.update' AND event_id = 'ev1'
		AND actor = 'm@x' AND detail = 'changed: title, description'`); n != 1 {
		t.Errorf("update audit rows = %d", n)
	}
	for name, p := range map[string]model.EventPatch{
		"empty title":   {Title: strp("  ")},
		"NUL":           {Title: strp("a\x00b")},
		"line break":    {StoreName: strp("a\nb")},
		"bad UTF-8":     {Description: strp("a\xffb")},
		"not a URL":     {ImageURL: strp("javascript:alert(1)")},
		"too long":      {Title: strp(string(make([]byte, 501)))},
		"NUL in text":   {Description: strp("x\x00")},
		"CR in a title": {Title: strp("a\rb")},
	} {
		if _, err := d.UpdateEvent(ctx, "ev1", p, audit); model.ErrorCode(err) != model.EINVALID {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
	if got, _ := d.FindEventByID(ctx, "ev1"); got.Title != "Summer sale" {
		t.Errorf("a refused edit changed the event: %+v", got)
	}

	cp, err := d.DuplicateEvent(ctx, "ev1", audit)
	if err != nil {
		t.Fatal(err)
	}
	if cp.ID == "ev1" || !model.ValidEventID(cp.ID) || cp.Title != "Summer sale" || cp.Description != "a\nb" || cp.Distribution != nil {
		t.Errorf("copy = %+v", cp)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'event.duplicate' AND event_id = $1 AND detail = 'copy of ev1'`, cp.ID); n != 1 {
		t.Errorf("duplicate audit rows = %d", n)
	}

	if _, err := d.StartDistribution(ctx, "ev1", []model.Channel{model.ChannelKakao}, "m@x", (&engRecorder{}).enqueue); err != nil {
		t.Fatal(err)
	}
	_, err = d.UpdateEvent(ctx, "ev1", model.EventPatch{Title: strp("late")}, audit)
	wantCode(t, err, model.ESTARTED)
	wantCode(t, d.DeleteEvent(ctx, "ev1", audit), model.ESTARTED)
	if _, err := d.DuplicateEvent(ctx, "ev1", audit); err != nil {
		t.Errorf("a started event cannot be copied: %v", err)
	}

	if err := d.DeleteEvent(ctx, cp.ID, audit); err != nil {
		t.Fatal(err)
	}
	if _, err := d.FindEventByID(ctx, cp.ID); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("deleted event still found: %v", err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'event.delete' AND event_id = $1 AND detail = 'title: Summer sale'`, cp.ID); n != 1 {
		t.Errorf("delete audit rows = %d", n)
	}
	wantCode(t, d.DeleteEvent(ctx, cp.ID, audit), model.ENOTFOUND)
	_, err = d.UpdateEvent(ctx, "nope", model.EventPatch{Title: strp("x")}, audit)
	wantCode(t, err, model.ENOTFOUND)
	_, err = d.DuplicateEvent(ctx, "nope", audit)
	wantCode(t, err, model.ENOTFOUND)
}

// A start in flight (its transaction holds the event FOR SHARE and has inserted the distribution)
// makes an edit and a delete wait, and they then answer ESTARTED: never an edited or deleted
// event under a distribution that committed.
func TestEventEditWaitsForAStartInFlight(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	mustCreateEvent(t, d, "ev1", "t")
	tx, err := d.Pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // committed below
	if _, err := tx.Exec(ctx, `SELECT id FROM events WHERE id = 'ev1' FOR SHARE`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO distribution_status (event_id, overall_status, started_at) VALUES ('ev1', 'IN_PROGRESS', now())`); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 2)
	go func() { errs <- d.DeleteEvent(ctx, "ev1", model.AuditEntry{Actor: "a"}) }()
	go func() {
		_, err := d.UpdateEvent(ctx, "ev1", model.EventPatch{Title: strp("x")}, model.AuditEntry{Actor: "a"})
		errs <- err
	}()
	// Both wait on the row lock (pg_locks shows them waiting) until the start commits.
	deadline := time.Now().Add(10 * time.Second)
	for engCount(t, d, `SELECT count(*) FROM pg_locks WHERE NOT granted AND locktype IN ('tuple', 'transactionid')`) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the edit and the delete did not wait for the start's lock")
		}
		select {
		case err := <-errs:
			t.Fatalf("answered before the start committed: %v", err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		wantCode(t, <-errs, model.ESTARTED)
	}
	if got, err := d.FindEventByID(ctx, "ev1"); err != nil || got.Title != "t" {
		t.Errorf("event after the race = %+v, %v", got, err)
	}
}

// Many rounds of a real start racing a delete and an edit of the same event: the start wins
// (and the others answer ESTARTED, leaving the event as it was) or loses to the delete (404,
// nothing started); an edit that succeeds next to a successful start was committed first.
func TestEventEditRacesStart(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	rec := &engRecorder{}
	outcomes := map[string]int{}
	for i := range 40 {
		id := fmt.Sprintf("race-%d", i)
		mustCreateEvent(t, d, id, "orig")
		var (
			wg                      sync.WaitGroup
			startErr, delErr, upErr error
			gate                    = make(chan struct{})
		)
		wg.Go(func() {
			<-gate
			_, startErr = d.StartDistribution(ctx, id, []model.Channel{model.ChannelNaver}, "s", rec.enqueue)
		})
		wg.Go(func() {
			<-gate
			_, upErr = d.UpdateEvent(ctx, id, model.EventPatch{Title: strp("edited")}, model.AuditEntry{Actor: "u"})
		})
		if i%2 == 0 {
			wg.Go(func() { <-gate; delErr = d.DeleteEvent(ctx, id, model.AuditEntry{Actor: "d"}) })
		} else {
			delErr = errors.New("not run")
		}
		close(gate)
		wg.Wait()
		dists := engCount(t, d, `SELECT count(*) FROM distribution_status WHERE event_id = $1`, id)
		events := engCount(t, d, `SELECT count(*) FROM events WHERE id = $1`, id)
		switch {
		case startErr == nil:
			outcomes["started"]++
			if dists != 1 || events != 1 {
				t.Fatalf("round %d: started but %d distributions, %d events", i, dists, events)
			}
			if i%2 == 0 && model.ErrorCode(delErr) != model.ESTARTED {
				t.Fatalf("round %d: delete next to a start = %v", i, delErr)
			}
			if upErr == nil {
				// The edit went first: its audit row was written before the start's.
				if engCount(t, d, `SELECT count(*) FROM audit_log u, audit_log s WHERE u.event_id = $1 AND s.event_id = $1
					AND u.action = 'event.update' AND s.action = 'distribution.start' AND u.id < s.id`, id) != 1 {
					t.Fatalf("round %d: an edit succeeded after the start", i)
				}
			} else if model.ErrorCode(upErr) != model.ESTARTED && model.ErrorCode(upErr) != model.ENOTFOUND {
				t.Fatalf("round %d: edit = %v", i, upErr)
			}
		case model.ErrorCode(startErr) == model.ENOTFOUND:
			outcomes["deleted first"]++
			if delErr != nil || dists != 0 || events != 0 {
				t.Fatalf("round %d: start not found but delete = %v, %d distributions, %d events", i, delErr, dists, events)
			}
		default:
			t.Fatalf("round %d: start = %v", i, startErr)
		}
	}
	if n := engCount(t, d, `SELECT count(*) FROM distribution_status d LEFT JOIN events e ON e.id = d.event_id WHERE e.id IS NULL`); n != 0 {
		t.Errorf("%d distributions without their event", n)
	}
	t.Logf("outcomes: %v", outcomes)
}

// Creating an event records who created it in the same transaction; a refused creation (id
// taken, hostile text) records nothing.
func TestCreateEventAudited(t *testing.T) {
	t.Parallel()
	d := dbtest.New(t)
	ctx := context.Background()
	audit := model.AuditEntry{Actor: "m@x", IP: "192.0.2.9"}
	e, err := d.CreateEventAudited(ctx, model.Event{ID: "ev1", Title: " Sale "}, audit)
	if err != nil || e.Title != "Sale" {
		t.Fatalf("created %+v, %v", e, err)
	}
	if _, err := d.CreateEventAudited(ctx, model.Event{ID: "ev1", Title: "again"}, audit); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("second create: %v", err)
	}
	if _, err := d.CreateEventAudited(ctx, model.Event{Title: "a\x00b"}, audit); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("NUL title: %v", err)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'event.create'`); n != 1 {
		t.Errorf("%d creation audit rows, want 1", n)
	}
	if n := engCount(t, d, `SELECT count(*) FROM audit_log WHERE action = 'event.create' AND event_id = 'ev1' AND actor = 'm@x' AND ip = '192.0.2.9'`); n != 1 {
		t.Error("the creation is not audited with its actor and address")
	}
}
