-- Worker liveness: every worker process (River client) registers here at start and holds a
-- session-level advisory lock (classid = the namespace in db/liveness.go, objid = lock_key) on a
-- dedicated connection for as long as it lives. PostgreSQL releases the lock when the session ends
-- (kill -9, host loss after TCP keepalive), so a row whose lock is not held in pg_locks is a dead
-- process, and its `running` River jobs can be re-run at once instead of after RESCUE_AFTER.
-- id is the process's River client id (river_job.attempted_by holds it); a fresh one per start.
CREATE SEQUENCE worker_lock_key_seq AS integer MINVALUE 1 CYCLE;

CREATE TABLE worker_processes (
    id         TEXT PRIMARY KEY,
    lock_key   INTEGER NOT NULL UNIQUE,
    host       TEXT NOT NULL DEFAULT '',
    pid        INTEGER NOT NULL DEFAULT 0,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- set by the first liveness check that found the lock released; cleared if the process takes
    -- its lock again (its connection had dropped). Jobs are rescued once it is older than a grace.
    lost_at    TIMESTAMPTZ
);
