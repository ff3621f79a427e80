package db

// Worker liveness: each worker process holds a session-level advisory lock on a connection of its
// own for as long as it lives, and registers itself in worker_processes (migration 0011). When the
// process dies, PostgreSQL ends its session and releases the lock, so any other process can tell
// that the `running` River jobs the dead process attempted will never finish, and re-run them at
// once (RescueWorkerJob) instead of waiting for River's time-based rescuer (RESCUE_AFTER).
// The lock order, generation fence and enqueue-in-the-same-transaction rules of distributions.go
// hold here.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/marketing-platform/distribution/internal/model"
)

// WorkerLockNamespace is the first key of every worker liveness lock:
// pg_advisory_lock(WorkerLockNamespace, lock_key). In pg_locks it is the classid of a lock with
// objsubid 2, lock_key its objid. (migrationLock is a one-key lock: objsubid 1.)
const WorkerLockNamespace = 727_002

// LivenessAppName is the application_name of the liveness connections (pg_stat_activity).
const LivenessAppName = "distribution-liveness"

// lockHeld matches a granted liveness lock of w (a worker_processes row) in this database,
// whichever session holds it ($1 = WorkerLockNamespace).
const lockHeld = `SELECT 1 FROM pg_locks l
	WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
	  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
	  AND l.classid::bigint = $1 AND l.objid::bigint = w.lock_key`

// jobWorker is the River client that attempted river_job j last (attempted_by's last entry).
const jobWorker = `j.attempted_by[cardinality(j.attempted_by)]`

// WorkerLease is a worker process's registration and liveness lock, held on a connection of its
// own (the direct URL: a transaction pooler would hand the lock's server connection to others).
type WorkerLease struct {
	db   *DB
	id   string
	key  int32
	host string
	pid  int

	mu   sync.Mutex
	conn *pgx.Conn
}

// ID is the worker id (the process's River client id).
func (l *WorkerLease) ID() string { return l.id }

// LockKey is the second key of the lease's advisory lock.
func (l *WorkerLease) LockKey() int32 { return l.key }

// RegisterWorker takes a fresh liveness lock on a new connection and registers the worker id
// (which must be new: one per process start, never reused) with it. The lock is taken before the
// row is visible, so a registered worker without its lock is dead (or has lost its connection).
func (db *DB) RegisterWorker(ctx context.Context, id, host string, pid int) (*WorkerLease, error) {
	l := &WorkerLease{db: db, id: id, host: host, pid: pid}
	conn, err := l.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("register worker: %w", err)
	}
	for range 5 { // the sequence cycles: a key can in theory still be held by a live process
		if err := conn.QueryRow(ctx, `SELECT nextval('worker_lock_key_seq')::int`).Scan(&l.key); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("register worker: lock key: %w", err)
		}
		var ok bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int, $2::int)`, WorkerLockNamespace, l.key).Scan(&ok); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("register worker: lock: %w", err)
		}
		if ok {
			l.conn = conn
			break
		}
	}
	if l.conn == nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, errors.New("register worker: no free liveness lock key")
	}
	if err := l.upsert(ctx); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	return l, nil
}

// connect opens the lease's own connection. The TCP keepalive settings make the server end the
// session (and so release the lock) within about 25 s when the worker's host vanishes without
// closing the connection; a killed process closes it at once.
func (l *WorkerLease) connect(ctx context.Context) (*pgx.Conn, error) {
	cfg := l.db.Session.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = LivenessAppName
	cfg.RuntimeParams["tcp_keepalives_idle"] = "10"
	cfg.RuntimeParams["tcp_keepalives_interval"] = "5"
	cfg.RuntimeParams["tcp_keepalives_count"] = "3"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// upsert writes the worker's row on the lease connection and clears lost_at: a lease that
// reconnected, or an engine started again in the same process, updates its row (with the key now
// held); one whose row was forgotten meanwhile writes it again.
func (l *WorkerLease) upsert(ctx context.Context) error {
	tag, err := l.conn.Exec(ctx, `UPDATE worker_processes SET lock_key = $2, host = $3, pid = $4, lost_at = NULL
		WHERE id = $1`, l.id, l.key, l.host, l.pid)
	if err != nil {
		return fmt.Errorf("register worker: %w", err)
	}
	if tag.RowsAffected() > 0 {
		return nil
	}
	// The key is held by this session: a row with the same key belongs to a dead process of an
	// earlier cycle of the sequence.
	if _, err := l.conn.Exec(ctx, `INSERT INTO worker_processes AS w (id, lock_key, host, pid)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (lock_key) DO UPDATE SET id = EXCLUDED.id, host = EXCLUDED.host, pid = EXCLUDED.pid,
			started_at = now(), lost_at = NULL
		WHERE w.id = EXCLUDED.id OR w.lost_at IS NOT NULL`, l.id, l.key, l.host, l.pid); err != nil {
		return fmt.Errorf("register worker: %w", err)
	}
	return nil
}

// Keep checks that the lease still holds its lock, and when its connection was lost, reconnects
// and takes the same lock again (reconnected = true). An error means the worker is, for now, not
// seen alive: other processes may rescue its running jobs (they run again under the same
// idempotency keys).
func (l *WorkerLease) Keep(ctx context.Context) (reconnected bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		var held bool
		err := l.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_locks
			WHERE pid = pg_backend_pid() AND locktype = 'advisory' AND granted AND objsubid = 2
			  AND classid::bigint = $1 AND objid::bigint = $2)`, WorkerLockNamespace, l.key).Scan(&held)
		if err == nil && held {
			return false, nil
		}
		if ctx.Err() != nil {
			return false, ctx.Err()
		}
		_ = l.conn.Close(context.WithoutCancel(ctx))
		l.conn = nil
	}
	conn, err := l.connect(ctx)
	if err != nil {
		return false, fmt.Errorf("worker liveness: %w", err)
	}
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1::int, $2::int)`, WorkerLockNamespace, l.key).Scan(&ok); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return false, fmt.Errorf("worker liveness: lock: %w", err)
	}
	if !ok { // the old session has not ended yet (the server has not noticed the lost connection)
		_ = conn.Close(context.WithoutCancel(ctx))
		return false, errors.New("worker liveness: the lock is still held by the previous connection")
	}
	l.conn = conn
	if err := l.upsert(ctx); err != nil {
		return true, err
	}
	return true, nil
}

// Release ends the lease after a graceful stop: the row is deleted unless a job this worker
// attempted is still running (then it stays, lost, and its jobs are rescued), and closing the
// connection releases the lock.
func (l *WorkerLease) Release(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.Exec(ctx, `DELETE FROM worker_processes w WHERE w.id = $1
		AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running' AND `+jobWorker+` = w.id)`, l.id)
	cerr := l.conn.Close(context.WithoutCancel(ctx))
	l.conn = nil
	if err != nil {
		return fmt.Errorf("release worker: %w", err)
	}
	return cerr
}

// DeadWorkerJob is a running publish job whose worker process is gone.
type DeadWorkerJob struct {
	JobID    int64
	WorkerID string
}

// FindDeadWorkerJobs stamps lost_at on registered workers whose liveness lock is no longer held,
// forgets workers lost for over 10 minutes that have no running job left, and returns the
// running publish jobs last attempted by a worker lost for at least grace (by the database clock).
// The grace lets a live process whose connection dropped take its lock again before its jobs
// are re-run.
func (db *DB) FindDeadWorkerJobs(ctx context.Context, grace time.Duration, limit int) ([]DeadWorkerJob, error) {
	if _, err := db.Pool.Exec(ctx, `UPDATE worker_processes w SET lost_at = now()
		WHERE w.lost_at IS NULL AND NOT EXISTS (`+lockHeld+`)`, WorkerLockNamespace); err != nil {
		return nil, fmt.Errorf("mark lost workers: %w", err)
	}
	if _, err := db.Pool.Exec(ctx, `DELETE FROM worker_processes w
		WHERE w.lost_at < now() - interval '10 minutes' AND NOT EXISTS (`+lockHeld+`)
		  AND NOT EXISTS (SELECT 1 FROM river_job j WHERE j.state = 'running' AND `+jobWorker+` = w.id)`,
		WorkerLockNamespace); err != nil {
		return nil, fmt.Errorf("forget lost workers: %w", err)
	}
	rows, err := db.Pool.Query(ctx, `SELECT j.id, w.id FROM river_job j
		JOIN worker_processes w ON w.id = `+jobWorker+`
		WHERE j.state = 'running' AND j.kind = $1
		  AND w.lost_at <= now() - make_interval(secs => $2)
		ORDER BY j.id LIMIT $3`, PublishJobKind, grace.Seconds(), limit)
	if err != nil {
		return nil, fmt.Errorf("find jobs of lost workers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[DeadWorkerJob])
	if err != nil {
		return nil, fmt.Errorf("find jobs of lost workers: %w", err)
	}
	return out, nil
}

// Rescue actions of RescueWorkerJob (besides RescueFailed).
const (
	RescueResumed  = "resumed"  // the job runs again now, same generation and idempotency key
	RescueRequeued = "requeued" // the job's channel had moved on: re-queued to end as stale
)

// RescueWorkerJob re-runs one running publish job of a dead worker (from FindDeadWorkerJobs) in
// one transaction. Under the distribution's lock, the job is taken back only if it is still
// running for workerID (so several replicas may rescue at once: the loser changes nothing): it
// becomes available now with its attempt given back (the channel did not fail; a crash loop is
// bounded by maxLost instead), and River's producers are notified. The killed attempt is recorded
// "lost"; the channel goes back to PENDING at the same generation, so the re-run uses the same
// idempotency key (no second post). When the channel has now been lost maxLost times since its
// last manual retry it is FAILED "worker lost" and the job cancelled, as the reconciler does.
func (db *DB) RescueWorkerJob(ctx context.Context, jobID int64, workerID string, maxLost int) (RescueResult, error) {
	var res RescueResult
	err := pgx.BeginFunc(ctx, db.Pool, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, `SELECT j.args FROM river_job j
			WHERE j.id = $1 AND j.state = 'running' AND `+jobWorker+` = $2`, jobID, workerID).Scan(&raw)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read job: %w", err)
		}
		var args struct {
			DistributionStatusID int64  `json:"distribution_status_id"`
			Channel              string `json:"channel"`
			Generation           int    `json:"generation"`
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			return fmt.Errorf("job args: %w", err)
		}
		d, err := lockDistributionTx(ctx, tx, "d.id = $1", args.DistributionStatusID)
		found := err == nil
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("lock distribution: %w", err)
		}
		tag, err := tx.Exec(ctx, `UPDATE river_job j SET state = 'available', scheduled_at = now(),
				attempt = GREATEST(j.attempt - 1, 0),
				errors = array_append(j.errors, jsonb_build_object('at', now(), 'attempt', j.attempt, 'trace', '',
					'error', 'worker process ' || $2 || ' died; re-run at once (worker liveness)')),
				metadata = j.metadata || jsonb_build_object('liveness_rescues',
					COALESCE((j.metadata ->> 'liveness_rescues')::int, 0) + 1)
			WHERE j.id = $1 AND j.state = 'running' AND `+jobWorker+` = $2`, jobID, workerID)
		if err != nil {
			return fmt.Errorf("take job back: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil // rescued by another process meanwhile
		}
		notify := func() error {
			_, err := tx.Exec(ctx, `SELECT pg_notify(current_schema() || '.river_insert', json_build_object('queue', queue)::text)
				FROM river_job WHERE id = $1 AND state = 'available'`, jobID)
			if err != nil {
				return fmt.Errorf("notify river: %w", err)
			}
			return nil
		}
		res.Action = RescueRequeued
		if !found {
			return notify()
		}
		st, err := scanChannel(tx.QueryRow(ctx, `SELECT `+channelColumns+` FROM channel_status cs
			WHERE cs.distribution_status_id = $1 AND cs.channel = $2 AND cs.generation = $3
			  AND cs.status IN ('PENDING', 'IN_PROGRESS')
			FOR UPDATE`, args.DistributionStatusID, args.Channel, args.Generation))
		if errors.Is(err, pgx.ErrNoRows) {
			return notify() // finished, or a newer generation owns it: the re-run ends as stale
		}
		if err != nil {
			return fmt.Errorf("lock channel: %w", err)
		}
		tag, err = tx.Exec(ctx, `UPDATE channel_attempts SET outcome = 'lost', finished_at = now(),
				error = 'the worker running this attempt was lost'
			WHERE channel_status_id = $1 AND outcome = 'running'`, st.ID)
		if err != nil {
			return fmt.Errorf("mark attempts lost: %w", err)
		}
		lost, err := lostSinceRetryTx(ctx, tx, st)
		if err != nil {
			return err
		}
		res.Previous = d.OverallStatus
		// Only a killed attempt counts towards maxLost: a worker that died between fetching the
		// job and claiming the channel left no attempt behind.
		if tag.RowsAffected() > 0 && lost >= maxLost {
			if _, err := tx.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now() WHERE id = $1`, jobID); err != nil {
				return fmt.Errorf("cancel job: %w", err)
			}
			res.Action = RescueFailed
			res.Channel, res.Distribution, res.Previous, err = failWorkerLostTx(ctx, tx, st, d, lost)
			return err
		}
		res.Channel, err = scanChannel(tx.QueryRow(ctx, `UPDATE channel_status cs SET status = 'PENDING', progress = 0,
				completed_at = NULL, error_message = 'the worker was lost; resuming automatically',
				waiting_reason = 'queued', next_attempt_at = NULL, update_timestamp = now(), updated_at = now()
			WHERE cs.id = $1 RETURNING `+channelColumns, st.ID))
		if err != nil {
			return fmt.Errorf("resume channel: %w", err)
		}
		res.Action = RescueResumed
		if err := auditTx(ctx, tx, "system", model.AuditRescue, st.EventID, string(st.Channel),
			"re-run at once: the worker process running it died"); err != nil {
			return err
		}
		if res.Distribution, res.Previous, err = rollupTx(ctx, tx, d); err != nil {
			return err
		}
		return notify()
	})
	if err != nil {
		return RescueResult{}, fmt.Errorf("rescue job %d of worker %s: %w", jobID, workerID, err)
	}
	return res, nil
}
