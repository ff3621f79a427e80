package db

// Starting distributions (DESIGN.md "Distribution engine"): one start or a group-committed batch,
// each creating the distribution, its PENDING channels, their jobs and an audit row together.
// The lock order, generation fence and enqueue-in-the-same-transaction rules of distributions.go
// hold here.

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// StartDistribution creates the distribution of an event to chans in one transaction: the
// distribution row (IN_PROGRESS), one PENDING channel row per channel (generation 1), their jobs
// (enqueue) and an audit row. A second start of the same event returns *model.AlreadyStartedError with
// the existing distribution and writes nothing; concurrent starts serialise on the unique
// event_id, so exactly one wins.
func (db *DB) StartDistribution(ctx context.Context, eventID string, chans []model.Channel, actor string, enqueue EnqueueFunc) (model.Distribution, error) {
	r := db.StartDistributions(ctx, []StartRequest{{EventID: eventID, Channels: chans, Actor: actor}}, enqueue)[0]
	return r.Distribution, r.Err
}

// StartRequest is one start of StartDistributions.
type StartRequest struct {
	EventID  string
	Channels []model.Channel
	Actor    string
	// Trigger is what the channel jobs record as having started them: "" = "system" (a person's
	// immediate start), "schedule:<actor>" for a schedule that fell due (StartDueSchedules).
	Trigger string
}

// StartResult is the outcome of one StartRequest: the new distribution, or Err as
// StartDistribution returns it.
type StartResult struct {
	Distribution model.Distribution
	Err          error
}

// startSQL is one start in one statement: the event is locked against deletion, the distribution
// inserted unless the event has one (ON CONFLICT DO NOTHING waits for a concurrent inserter to
// commit, then yields no row), its channels and the audit row with it. No row: not started.
var startSQL = `WITH ev AS (SELECT id FROM events WHERE id = $1 FOR SHARE),
	d AS (INSERT INTO distribution_status (event_id, overall_status, started_at)
		SELECT id, 'IN_PROGRESS', now() FROM ev ON CONFLICT (event_id) DO NOTHING RETURNING *),
	cs AS (INSERT INTO channel_status (distribution_status_id, channel, status, progress, event_id,
			retries, generation, update_timestamp, waiting_reason)
		SELECT d.id, ch, 'PENDING', 0, d.event_id, 0, 1, now(), 'queued' FROM d, unnest($2::text[]) AS ch
		RETURNING *),
	audit AS (INSERT INTO audit_log (actor, action, event_id, detail)
		SELECT $3, 'distribution.start', d.event_id, $4 FROM d)
	SELECT ` + distributionColumns + `, ` + channelColumns + ` FROM d, cs ORDER BY ` + channelOrder

// unscheduleSQL removes the events' schedules after their starts, in the starts' transaction: a
// start now of a scheduled event replaces the schedule, and a schedule that fell due is gone with
// the start it became. It is its own statement, after every startSQL of the batch (one for the
// whole group, in the same round trip): a schedule written while a start waited for the event's
// lock is committed by then and seen here (startSQL's snapshot predates it).
const unscheduleSQL = `DELETE FROM distribution_schedules WHERE event_id = ANY($1::text[])`

// StartDistributions runs several starts in one transaction, each as StartDistribution would (a
// group commit: one round trip for every start's rows, one insert of all their jobs, one commit).
// The starts are independent: when the shared transaction fails, each is run again on its own,
// so one start's trouble is never another's.
func (db *DB) StartDistributions(ctx context.Context, reqs []StartRequest, enqueue EnqueueFunc) []StartResult {
	res := make([]StartResult, len(reqs))
	var todo []int
	names := make([][]string, len(reqs))
	for i, r := range reqs {
		if !model.ValidEventID(r.EventID) {
			res[i].Err = eventNotFound(r.EventID)
			continue
		}
		chans, err := model.ParseChannels(r.Channels)
		if err != nil {
			res[i].Err = err
			continue
		}
		for _, c := range chans {
			names[i] = append(names[i], string(c))
		}
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return res
	}
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		return startTx(ctx, tx, reqs, todo, names, res, enqueue)
	})
	if err == nil {
		return res
	}
	if len(todo) > 1 {
		for _, i := range todo {
			res[i] = db.StartDistributions(ctx, reqs[i:i+1], enqueue)[0]
		}
		return res
	}
	res[todo[0]] = StartResult{Err: wrapStart(err)}
	return res
}

// startTx writes the starts reqs[todo] (their channels named in names) in tx and sets their
// results in res. An error fails the whole transaction; a start refused for its own reasons
// (no such event, already started) is only that start's result.
func startTx(ctx context.Context, tx pgx.Tx, reqs []StartRequest, todo []int, names [][]string, res []StartResult, enqueue EnqueueFunc) error {
	b := &pgx.Batch{}
	ids := make([]string, 0, len(todo))
	for _, i := range todo {
		detail := fmt.Sprintf("channels: %v", names[i])
		if t := reqs[i].Trigger; t != "" {
			detail += "; trigger: " + t
		}
		b.Queue(startSQL, reqs[i].EventID, names[i], reqs[i].Actor, detail)
		ids = append(ids, reqs[i].EventID)
	}
	b.Queue(unscheduleSQL, ids)
	br := tx.SendBatch(ctx, b)
	for _, i := range todo {
		d := &res[i].Distribution
		*d = model.Distribution{}
		var cd channelDest
		rows, err := br.Query()
		if err == nil {
			_, err = pgx.ForEachRow(rows, append(distributionDest(d), cd.targets()...), func() error {
				d.Channels = append(d.Channels, cd.state())
				return nil
			})
		}
		if err != nil {
			br.Close()
			return fmt.Errorf("insert distribution: %w", err)
		}
	}
	if _, err := br.Exec(); err != nil {
		br.Close()
		return fmt.Errorf("remove schedules: %w", err)
	}
	if err := br.Close(); err != nil {
		return fmt.Errorf("insert distribution: %w", err)
	}
	jobs := map[string][]model.ChannelState{} // by trigger
	var triggers []string
	for _, i := range todo {
		if len(res[i].Distribution.Channels) > 0 {
			t := reqs[i].Trigger
			if t == "" {
				t = "system"
			}
			if _, ok := jobs[t]; !ok {
				triggers = append(triggers, t)
			}
			jobs[t] = append(jobs[t], res[i].Distribution.Channels...)
			continue
		}
		res[i].Distribution = model.Distribution{}
		res[i].Err = notStarted(ctx, tx, reqs[i].EventID)
		var ae *model.AlreadyStartedError
		if !errors.As(res[i].Err, &ae) && model.ErrorCode(res[i].Err) != model.ENOTFOUND {
			return res[i].Err
		}
	}
	for _, t := range triggers {
		if err := enqueue(ctx, tx, jobs[t], t); err != nil {
			return fmt.Errorf("enqueue channel jobs: %w", err)
		}
	}
	return nil
}

// notStarted says why a start inserted nothing: there is no such event, or it already has a
// distribution (an *model.AlreadyStartedError carrying it).
func notStarted(ctx context.Context, tx pgx.Tx, eventID string) error {
	existing, err := scanDistribution(tx.QueryRow(ctx, `SELECT `+distributionColumns+`
		FROM distribution_status d WHERE d.event_id = $1`, eventID))
	if errors.Is(err, pgx.ErrNoRows) {
		return eventNotFound(eventID)
	}
	if err != nil {
		return fmt.Errorf("read existing distribution: %w", err)
	}
	if existing.Channels, err = loadChannelsTx(ctx, tx, existing.ID); err != nil {
		return fmt.Errorf("read existing channels: %w", err)
	}
	return &model.AlreadyStartedError{Distribution: existing}
}

func wrapStart(err error) error {
	var me *model.Error
	var ae *model.AlreadyStartedError
	if errors.As(err, &ae) || errors.As(err, &me) {
		return err
	}
	return fmt.Errorf("start distribution: %w", err)
}
