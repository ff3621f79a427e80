package db

// Scheduled starts (DESIGN.md "Distribution engine"): a schedule is one row per event in
// distribution_schedules (migration 0013) until it falls due and becomes a start, in the same
// transaction, through the same startTx as an immediate start.
//
// Locks, so that an event never ends with both a schedule and a distribution and a schedule
// starts once: every writer takes the event row first. Writing a schedule holds it FOR NO KEY
// UPDATE while it checks for a distribution and upserts; a start holds it FOR SHARE (startSQL)
// and then deletes the schedule (unscheduleSQL); the due-claim locks the due events FOR NO KEY
// UPDATE SKIP LOCKED, so of two claimers (replicas) each event goes to one, and an event being
// started now or rescheduled is left for the next pass. Unscheduling deletes the row alone.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

const scheduleColumns = `s.event_id, s.channels, s.start_at, s.created_by, s.updated_at`

func scanSchedule(row pgx.Row) (model.Schedule, error) {
	var (
		s     model.Schedule
		chans []string
	)
	if err := row.Scan(&s.EventID, &chans, &s.StartAt, &s.CreatedBy, &s.UpdatedAt); err != nil {
		return s, err
	}
	s.Channels = make([]model.Channel, len(chans))
	for i, c := range chans {
		s.Channels[i] = model.Channel(c)
	}
	return s, nil
}

// ScheduleDistribution plans the start of an event's distribution to chans at startAt, replacing
// the event's schedule if it has one (replaced = true). startAt is checked against the database
// clock: no more than model.ScheduleMaxPast before now(), no more than model.ScheduleMaxAhead
// after. Errors: EINVALID (bad channels or time), ENOTFOUND (no such event), ECONFLICT (the
// event's distribution has started). actor is recorded as the schedule's creator and in the audit log.
func (db *DB) ScheduleDistribution(ctx context.Context, eventID string, chans []model.Channel, startAt time.Time, actor string) (s model.Schedule, replaced bool, err error) {
	if !model.ValidEventID(eventID) {
		return s, false, eventNotFound(eventID)
	}
	chans, err = model.ParseChannels(chans)
	if err != nil {
		return s, false, err
	}
	names := make([]string, len(chans))
	for i, c := range chans {
		names[i] = string(c)
	}
	err = pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var tooEarly, tooLate bool
		err := tx.QueryRow(ctx, `SELECT $2::timestamptz < now() - make_interval(secs => $3),
				$2::timestamptz > now() + make_interval(secs => $4)
			FROM events WHERE id = $1 FOR NO KEY UPDATE`,
			eventID, startAt, model.ScheduleMaxPast.Seconds(), model.ScheduleMaxAhead.Seconds()).Scan(&tooEarly, &tooLate)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return eventNotFound(eventID)
		case err != nil:
			return fmt.Errorf("lock event: %w", err)
		case tooEarly:
			return model.Errork(model.EINVALID, "action.schedule_past", "startAt is more than a minute in the past")
		case tooLate:
			return model.Errork(model.EINVALID, "action.schedule_far", "startAt is more than 90 days ahead")
		}
		// A statement of its own, after the lock: a start that committed while this waited is seen.
		var started bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM distribution_status WHERE event_id = $1)`, eventID).Scan(&started); err != nil {
			return fmt.Errorf("check distribution: %w", err)
		}
		if started {
			return model.Errork(model.ECONFLICT, "action.already_started", "this event's distribution has already started")
		}
		s, err = scanScheduleInserted(tx.QueryRow(ctx, `INSERT INTO distribution_schedules AS s (event_id, channels, start_at, created_by)
			VALUES ($1, $2, $3, $4)
			ON CONFLICT (event_id) DO UPDATE SET channels = EXCLUDED.channels, start_at = EXCLUDED.start_at,
				created_by = EXCLUDED.created_by, updated_at = now()
			RETURNING `+scheduleColumns+`, s.xmax <> 0`, eventID, names, startAt, actor), &replaced)
		if err != nil {
			return fmt.Errorf("write schedule: %w", err)
		}
		action := "distribution.schedule"
		if replaced {
			action = "distribution.reschedule"
		}
		if _, err := tx.Exec(ctx, `INSERT INTO audit_log (actor, action, event_id, detail)
			VALUES ($1, $2, $3, $4 || to_char($5::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))`,
			actor, action, eventID, fmt.Sprintf("channels: %v; startAt: ", names), startAt); err != nil {
			return fmt.Errorf("audit schedule: %w", err)
		}
		return nil
	})
	if err != nil {
		var me *model.Error
		if errors.As(err, &me) {
			return model.Schedule{}, false, err
		}
		return model.Schedule{}, false, fmt.Errorf("schedule distribution of %s: %w", eventID, err)
	}
	return s, replaced, nil
}

// scanScheduleInserted scans a schedule followed by the "was an update" flag (xmax <> 0: the
// upsert found the row and updated it).
func scanScheduleInserted(row pgx.Row, replaced *bool) (model.Schedule, error) {
	var (
		s     model.Schedule
		chans []string
	)
	if err := row.Scan(&s.EventID, &chans, &s.StartAt, &s.CreatedBy, &s.UpdatedAt, replaced); err != nil {
		return s, err
	}
	for _, c := range chans {
		s.Channels = append(s.Channels, model.Channel(c))
	}
	return s, nil
}

// FindSchedule returns the schedule of an event; ENOTFOUND when it has none (or there is no such
// event), EINVALID for an id that cannot exist.
func (db *DB) FindSchedule(ctx context.Context, eventID string) (model.Schedule, error) {
	if err := checkEventID(eventID); err != nil {
		return model.Schedule{}, err
	}
	s, err := scanSchedule(db.Pool.QueryRow(ctx, `SELECT `+scheduleColumns+` FROM distribution_schedules s WHERE s.event_id = $1`, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
		return model.Schedule{}, model.Errork(model.ENOTFOUND, "action.no_schedule", "event %s has no schedule", eventID)
	}
	if err != nil {
		return model.Schedule{}, fmt.Errorf("find schedule of %s: %w", eventID, err)
	}
	return s, nil
}

// DeleteSchedule removes an event's schedule (unschedule) and audits it; ENOTFOUND when it has
// none, for instance because it has just fallen due and started.
func (db *DB) DeleteSchedule(ctx context.Context, eventID, actor string) error {
	if err := checkEventID(eventID); err != nil {
		return err
	}
	tag, err := db.Pool.Exec(ctx, `WITH del AS (DELETE FROM distribution_schedules WHERE event_id = $1 RETURNING event_id, channels, start_at)
		INSERT INTO audit_log (actor, action, event_id, detail)
		SELECT $2, 'distribution.unschedule', event_id,
			'channels: [' || array_to_string(channels, ' ') || ']; startAt: ' ||
			to_char(start_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') FROM del`, eventID, actor)
	if err != nil {
		return fmt.Errorf("unschedule %s: %w", eventID, err)
	}
	if tag.RowsAffected() == 0 {
		return model.Errork(model.ENOTFOUND, "action.no_schedule", "event %s has no schedule", eventID)
	}
	return nil
}

// attachSchedules fills the schedule of every event among events that has no distribution, in
// one query.
func attachSchedules(ctx context.Context, q querier, events []model.Event) error {
	var ids []string
	for _, e := range events {
		if e.Distribution == nil {
			ids = append(ids, e.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT `+scheduleColumns+` FROM distribution_schedules s WHERE s.event_id = ANY($1)`, ids)
	if err != nil {
		return fmt.Errorf("find schedules: %w", err)
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Schedule, error) { return scanSchedule(r) })
	if err != nil {
		return fmt.Errorf("find schedules: %w", err)
	}
	by := make(map[string]*model.Schedule, len(found))
	for i := range found {
		by[found[i].EventID] = &found[i]
	}
	for i := range events {
		if events[i].Distribution == nil {
			events[i].Schedule = by[events[i].ID]
		}
	}
	return nil
}

// DueStart is one schedule that fell due and what became of it.
type DueStart struct {
	Schedule model.Schedule
	StartResult
}

// StartDueSchedules claims up to limit schedules whose start_at has passed (by the database clock)
// and starts them in the same transaction, through startTx as immediate starts by their creators
// would (one group commit), with trigger "schedule:<creator>". The claim is the schedules' DELETE;
// the event rows are locked first with SKIP LOCKED, so concurrent claimers (replicas) never wait
// for or take the same one, and a crash before the commit leaves them due for the next claimer.
// skip lists events not to claim (those that failed earlier in the caller's pass). None due: an
// empty result. An error is the transaction failing: nothing was written, and the result names
// the schedules it had claimed (they stay due), so a caller can retry them one by one and pass
// over the one that fails.
func (db *DB) StartDueSchedules(ctx context.Context, limit int, skip []string, enqueue EnqueueFunc) ([]DueStart, error) {
	if skip == nil {
		skip = []string{}
	}
	var due []DueStart
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		due = nil
		rows, err := tx.Query(ctx, `SELECT e.id FROM distribution_schedules s JOIN events e ON e.id = s.event_id
			WHERE s.start_at <= now() AND s.event_id <> ALL($1)
			ORDER BY s.start_at, s.event_id LIMIT $2
			FOR NO KEY UPDATE OF e SKIP LOCKED`, skip, limit)
		if err != nil {
			return fmt.Errorf("claim due schedules: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil || len(ids) == 0 {
			return err
		}
		// Re-read under the locks (a statement of its own: a schedule may have been replaced by a
		// later one, or removed, since the claim's snapshot).
		rows, err = tx.Query(ctx, `DELETE FROM distribution_schedules s
			WHERE s.event_id = ANY($1) AND s.start_at <= now() RETURNING `+scheduleColumns, ids)
		if err != nil {
			return fmt.Errorf("claim due schedules: %w", err)
		}
		claimed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (model.Schedule, error) { return scanSchedule(r) })
		if err != nil {
			return fmt.Errorf("claim due schedules: %w", err)
		}
		slices.SortFunc(claimed, func(a, b model.Schedule) int {
			if c := a.StartAt.Compare(b.StartAt); c != 0 {
				return c
			}
			return strings.Compare(a.EventID, b.EventID)
		})
		var (
			reqs  []StartRequest
			todo  []int
			names [][]string
		)
		for _, sc := range claimed {
			due = append(due, DueStart{Schedule: sc})
			chans, err := model.ParseChannels(sc.Channels)
			if err != nil {
				// Stored channels are valid by construction; a row edited by hand is dropped.
				due[len(due)-1].Err = err
				continue
			}
			var ns []string
			for _, c := range chans {
				ns = append(ns, string(c))
			}
			todo = append(todo, len(reqs))
			reqs = append(reqs, StartRequest{EventID: sc.EventID, Channels: chans, Actor: sc.CreatedBy, Trigger: "schedule:" + sc.CreatedBy})
			names = append(names, ns)
		}
		res := make([]StartResult, len(reqs))
		if err := startTx(ctx, tx, reqs, todo, names, res, enqueue); err != nil {
			return err
		}
		k := 0
		for i := range due {
			if due[i].Err == nil {
				due[i].StartResult = res[k]
				k++
			}
		}
		return nil
	})
	if err != nil {
		for i := range due {
			due[i].StartResult = StartResult{}
		}
		return due, wrapStart(err)
	}
	return due, nil
}

// NextScheduleIn returns how long until the earliest schedule falls due by the database clock (0
// or less: one is due now); ok is false when there is no schedule.
func (db *DB) NextScheduleIn(ctx context.Context) (d time.Duration, ok bool, err error) {
	var secs *float64
	if err := db.Pool.QueryRow(ctx, `SELECT EXTRACT(EPOCH FROM min(start_at) - clock_timestamp())::float8 FROM distribution_schedules`).Scan(&secs); err != nil {
		return 0, false, fmt.Errorf("next schedule: %w", err)
	}
	if secs == nil {
		return 0, false, nil
	}
	return time.Duration(*secs * float64(time.Second)), true, nil
}
