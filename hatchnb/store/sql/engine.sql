-- The engine leader's duties: dead workers, timeouts, conditions, statistics.

-- name: reap_dead_workers
-- Workers silent for longer than the timeout are dead (paused ones too); their running tasks
-- go back to the queue.
WITH dead AS (
    UPDATE hatchnb.workers SET status = 'DEAD'
     WHERE status IN ('ACTIVE', 'PAUSED') AND last_heartbeat_at < now() - %(timeout)s::interval
    RETURNING id
)
UPDATE hatchnb.task_runs t
   SET status = 'QUEUED', worker_id = NULL, timeout_at = NULL, queued_at = now(),
       available_at = now()
  FROM dead WHERE t.worker_id = dead.id AND t.status = 'RUNNING'
RETURNING t.id;

-- name: timed_out_task_runs
-- Running task runs past their execution timeout.
SELECT id, attempt, worker_id, execution_timeout::text AS execution_timeout
  FROM hatchnb.task_runs WHERE status = 'RUNNING' AND timeout_at < now()
 ORDER BY timeout_at LIMIT 1000;

-- name: expire_queued_task_runs
-- Queued task runs not started within their schedule timeout fail (never retried).
WITH expired AS (
    UPDATE hatchnb.task_runs
       SET status = 'RUNNING', attempt = attempt + 1
     WHERE id IN (SELECT id FROM hatchnb.task_runs
                   -- OR, not IN: each side matches a partial index (a full scan otherwise)
                   WHERE (status = 'QUEUED' OR status = 'BLOCKED')
                     AND queued_at + schedule_timeout < now()
                     -- a paused workflow's runs wait for its queue_ttl instead
                     AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_pauses p
                                      WHERE p.workflow_name = task_runs.workflow_name)
                   LIMIT 1000 FOR UPDATE SKIP LOCKED)
    RETURNING id, attempt, version_id, schedule_timeout::text AS schedule_timeout
)
SELECT e.id, e.attempt, e.schedule_timeout, v.python_version,
       (SELECT string_agg(DISTINCT w.python_version, ', ') FROM hatchnb.workers w
         WHERE w.status = 'ACTIVE') AS worker_pythons
  FROM expired e JOIN hatchnb.workflow_versions v ON v.id = e.version_id;

-- name: stale_queue_statistics
-- Rows of the task table changed since its last full ANALYZE (autovacuum's) and changed ever
-- (inserted, updated or deleted): the engine remembers `changes` at its own analyze, which
-- names columns and so leaves n_mod_since_analyze as it was.
SELECT n_mod_since_analyze AS since_analyze, n_tup_ins + n_tup_upd + n_tup_del AS changes
  FROM pg_stat_user_tables WHERE relid = 'hatchnb.task_runs'::regclass;

-- name: analyze_task_runs
-- Refresh the statistics the claim's plan depends on (the partial queue index's row count
-- and the status, workflow, availability, version, priority and id columns) from a sample of
-- 3,000 rows (300 x the target) instead of the default 30,000 of every column: 30-110 ms
-- instead of 0.7-2.6 s on 1.6 M task runs. Autovacuum's full ANALYZE keeps its default
-- target (SET LOCAL: the two statements run as one implicit transaction). run_id too: the
-- archive joins task runs by run, and without its statistics (autovacuum off or behind) a
-- pass moved 1,400 instead of 16,000 runs/s.
SET LOCAL default_statistics_target = 10;
ANALYZE hatchnb.task_runs (status, workflow_name, available_at, version_id, priority, id,
                           run_id);

-- name: sweep_concurrency
-- The leader's concurrency duties (see hatchnb.sweep_concurrency); returns cancelled running
-- task runs so their workers can be told.
SELECT s.task_run_id AS id, s.worker_id, t.attempt
  FROM hatchnb.sweep_concurrency() s JOIN hatchnb.task_runs t ON t.id = s.task_run_id;

-- name: waiting_task_runs
-- Task runs waiting on conditions, with their conditions, parents' outputs and run facts.
SELECT t.id, t.run_id, t.task_name, t.attempt, t.ready_at, r.additional_metadata, r.input,
       (SELECT s FROM jsonb_array_elements(v.spec -> 'tasks') s
         WHERE s ->> 'name' = t.task_name) -> 'conditions' AS conditions,
       (SELECT jsonb_object_agg(p.task_name, p.output) FROM hatchnb.task_runs p
         WHERE p.run_id = t.run_id AND p.task_name = ANY (t.parents)) AS parent_outputs
  FROM hatchnb.task_runs t
  JOIN hatchnb.workflow_runs r ON r.id = t.run_id
  JOIN hatchnb.workflow_versions v ON v.id = t.version_id
 WHERE t.status = 'WAITING'
 ORDER BY t.ready_at LIMIT 500;

-- name: release_waiting
-- Queue waiting task runs whose wait_for conditions hold.
UPDATE hatchnb.task_runs SET status = 'QUEUED', queued_at = now(), available_at = now()
 WHERE id = ANY (%(ids)s::bigint[]) AND status = 'WAITING';

-- name: decide_waiting
-- Mark waiting task runs RUNNING (for the engine) so finish_task_runs can skip or cancel them.
UPDATE hatchnb.task_runs SET status = 'RUNNING', attempt = attempt + 1, started_at = now()
 WHERE id = ANY (%(ids)s::bigint[]) AND status = 'WAITING'
RETURNING id, attempt;

-- name: cancel_expired_paused_runs
-- Cancel the runs of paused workflows queued longer than the pause's queue_ttl (counted
-- from the pause for runs queued before it); how many.
WITH expired AS (
    SELECT ARRAY(SELECT r.id FROM hatchnb.workflow_pauses p
                   JOIN hatchnb.workflow_runs r ON r.workflow_name = p.workflow_name
                  WHERE r.status = 'QUEUED'
                    AND greatest(r.created_at, p.paused_at) + p.queue_ttl < now()
                  LIMIT 1000) AS ids
)
SELECT cardinality(ids) AS cancelled, (SELECT count(*) FROM hatchnb.cancel_runs(ids)) AS running
  FROM expired;

-- name: wake_child_waiters
-- Durable task runs evicted while their children ran run again once a child finished after
-- the wait began; rows of finished task runs go. How many were woken.
WITH settled AS (
    DELETE FROM hatchnb.child_waits w
     USING hatchnb.task_runs t
     WHERE t.id = w.task_run_id
       AND (t.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
            OR (t.status = 'QUEUED' AND EXISTS (
                    SELECT 1 FROM hatchnb.workflow_runs c
                     WHERE c.parent_task_run_id = w.task_run_id AND c.finished_at >= w.since)))
    RETURNING w.task_run_id
), woken AS (
    UPDATE hatchnb.task_runs t SET available_at = now()
      FROM settled s
     WHERE t.id = s.task_run_id AND t.status = 'QUEUED' AND t.available_at > now()
    RETURNING t.id
)
SELECT count(*) AS woken,
       CASE WHEN count(*) > 0 THEN pg_notify('hatchnb_queued', '') END AS notified
  FROM woken;
