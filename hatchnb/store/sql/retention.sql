-- Retention (hatchnb.retention): delete expired runs and what is stored per run, one small
-- batch per statement, each statement its own transaction.
--
-- A run is pruned when it is expired (hatchnb.run_expired: terminal, finished before the
-- cutoff, no unfinished task run), every ancestor run is expired, and no child run remains:
-- children go first, so a parent outlives every child and a child is never orphaned.

-- name: retention_cutoff
-- The cutoff for "older than", on the database's clock (the one finished_at is written with).
SELECT now() - %(older_than)s::interval AS cutoff;

-- name: prune_runs_batch
-- Delete up to `batch` prunable runs (oldest finished first) with their task runs, logs,
-- stream chunks, durable log, attempts and notebooks; returns rows deleted per table.
WITH doomed AS MATERIALIZED (
    SELECT r.id FROM hatchnb.workflow_runs r
     WHERE r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
       AND r.finished_at < %(cutoff)s
       AND hatchnb.run_expired(r, %(cutoff)s)
       AND NOT EXISTS (
           SELECT 1 FROM hatchnb.task_runs t
             JOIN hatchnb.workflow_runs c ON c.parent_task_run_id = t.id
            WHERE t.run_id = r.id)
       AND (r.parent_task_run_id IS NULL OR NOT EXISTS (
           WITH RECURSIVE up AS (
               SELECT p.id, p.parent_task_run_id, hatchnb.run_expired(p, %(cutoff)s) AS expired
                 FROM hatchnb.task_runs pt JOIN hatchnb.workflow_runs p ON p.id = pt.run_id
                WHERE pt.id = r.parent_task_run_id
               UNION ALL
               SELECT p.id, p.parent_task_run_id, hatchnb.run_expired(p, %(cutoff)s)
                 FROM up JOIN hatchnb.task_runs pt ON pt.id = up.parent_task_run_id
                 JOIN hatchnb.workflow_runs p ON p.id = pt.run_id
           )
           SELECT 1 FROM up WHERE NOT up.expired))
     ORDER BY r.finished_at
     LIMIT %(batch)s
       FOR UPDATE OF r SKIP LOCKED
), tasks AS MATERIALIZED (
    SELECT t.id FROM hatchnb.task_runs t WHERE t.run_id IN (SELECT id FROM doomed)
), logs AS (
    DELETE FROM hatchnb.task_logs WHERE task_run_id IN (SELECT id FROM tasks) RETURNING 1
), chunks AS (
    DELETE FROM hatchnb.stream_chunks WHERE run_id IN (SELECT id FROM doomed) RETURNING 1
), durable AS (
    DELETE FROM hatchnb.durable_events WHERE task_run_id IN (SELECT id FROM tasks) RETURNING 1
), attempts AS (
    DELETE FROM hatchnb.task_attempts WHERE run_id IN (SELECT id FROM doomed) RETURNING 1
), notebooks AS (
    DELETE FROM hatchnb.task_notebooks WHERE run_id IN (SELECT id FROM doomed) RETURNING 1
), task_rows AS (
    DELETE FROM hatchnb.task_runs WHERE id IN (SELECT id FROM tasks) RETURNING 1
), triggers AS (
    DELETE FROM hatchnb.api_triggers WHERE run_id IN (SELECT id FROM doomed)
), run_rows AS (
    DELETE FROM hatchnb.workflow_runs WHERE id IN (SELECT id FROM doomed) RETURNING 1
)
SELECT (SELECT count(*) FROM run_rows) AS workflow_runs,
       (SELECT count(*) FROM task_rows) AS task_runs,
       (SELECT count(*) FROM logs) AS task_logs,
       (SELECT count(*) FROM chunks) AS stream_chunks,
       (SELECT count(*) FROM durable) AS durable_events,
       (SELECT count(*) FROM attempts) AS task_attempts,
       (SELECT count(*) FROM notebooks) AS task_notebooks;

-- name: prune_events_batch
-- Delete up to `batch` events older than the cutoff that no remaining run was started by.
WITH gone AS (
    DELETE FROM hatchnb.events WHERE id IN (
        SELECT e.id FROM hatchnb.events e
         WHERE e.created_at < %(cutoff)s
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs_all r WHERE r.event_id = e.id)
         ORDER BY e.created_at LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: prune_scheduled_batch
-- Delete up to `batch` one-off schedules that started a run before the cutoff, once that
-- run is gone.
WITH gone AS (
    DELETE FROM hatchnb.scheduled_runs WHERE id IN (
        SELECT s.id FROM hatchnb.scheduled_runs s
         WHERE s.run_id IS NOT NULL AND s.run_at < %(cutoff)s
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs_all r WHERE r.id = s.run_id)
         LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: prune_alert_deliveries_batch
-- Delete up to `batch` alert outbox messages created before the cutoff.
WITH gone AS (
    DELETE FROM hatchnb.alert_deliveries WHERE id IN (
        SELECT d.id FROM hatchnb.alert_deliveries d
         WHERE d.created_at < %(cutoff)s
         ORDER BY d.created_at DESC LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: prune_otel_spans_batch
-- Delete up to `batch` stored spans recorded before the cutoff.
WITH gone AS (
    DELETE FROM hatchnb.otel_spans WHERE (trace_id, span_id) IN (
        SELECT s.trace_id, s.span_id FROM hatchnb.otel_spans s
         WHERE s.created_at < %(cutoff)s
         ORDER BY s.created_at DESC LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: prune_workers_batch
-- Delete up to `batch` stopped or dead workers not heard from since the cutoff.
WITH gone AS (
    DELETE FROM hatchnb.workers WHERE id IN (
        SELECT w.id FROM hatchnb.workers w
         WHERE w.status <> 'ACTIVE' AND w.last_heartbeat_at < %(cutoff)s
         LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: prune_idempotency_keys_batch
-- Delete up to `batch` idempotency keys whose time was up before the cutoff.
WITH gone AS (
    DELETE FROM hatchnb.idempotency_keys WHERE key IN (
        SELECT k.key FROM hatchnb.idempotency_keys k
         WHERE k.expires_at < %(cutoff)s
         LIMIT %(batch)s
           FOR UPDATE SKIP LOCKED)
    RETURNING 1
)
SELECT count(*) AS deleted FROM gone;

-- name: count_prunable
-- What a prune with this cutoff would delete, per table (for --dry-run): expired runs
-- without a live ancestor or descendant run, and what they store.
WITH RECURSIVE links AS MATERIALIZED (
    SELECT c.id AS child, p.id AS parent,
           hatchnb.run_expired(c, %(cutoff)s) AS child_expired,
           hatchnb.run_expired(p, %(cutoff)s) AS parent_expired
      FROM hatchnb.workflow_runs c
      JOIN hatchnb.task_runs t ON t.id = c.parent_task_run_id
      JOIN hatchnb.workflow_runs p ON p.id = t.run_id
     WHERE c.parent_task_run_id IS NOT NULL
), above_live (id) AS (
    SELECT parent FROM links WHERE NOT child_expired
    UNION
    SELECT l.parent FROM above_live a JOIN links l ON l.child = a.id
), below_live (id) AS (
    SELECT child FROM links WHERE NOT parent_expired
    UNION
    SELECT l.child FROM below_live b JOIN links l ON l.parent = b.id
), kept AS MATERIALIZED (
    SELECT id FROM above_live UNION SELECT id FROM below_live
), runs AS MATERIALIZED (
    SELECT r.id FROM hatchnb.workflow_runs r
     WHERE r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND r.finished_at < %(cutoff)s
       AND hatchnb.run_expired(r, %(cutoff)s) AND r.id NOT IN (SELECT id FROM kept)
), tasks AS MATERIALIZED (
    SELECT t.id FROM hatchnb.task_runs t WHERE t.run_id IN (SELECT id FROM runs)
)
SELECT (SELECT count(*) FROM runs) AS workflow_runs,
       (SELECT count(*) FROM tasks) AS task_runs,
       (SELECT count(*) FROM hatchnb.task_logs WHERE task_run_id IN (SELECT id FROM tasks))
           AS task_logs,
       (SELECT count(*) FROM hatchnb.stream_chunks WHERE run_id IN (SELECT id FROM runs))
           AS stream_chunks,
       (SELECT count(*) FROM hatchnb.durable_events WHERE task_run_id IN (SELECT id FROM tasks))
           AS durable_events,
       (SELECT count(*) FROM hatchnb.task_attempts WHERE run_id IN (SELECT id FROM runs))
           AS task_attempts,
       (SELECT count(*) FROM hatchnb.task_notebooks WHERE run_id IN (SELECT id FROM runs))
           AS task_notebooks,
       (SELECT count(*) FROM hatchnb.events e
         WHERE e.created_at < %(cutoff)s
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs r
                            WHERE r.event_id = e.id
                              AND NOT (hatchnb.run_expired(r, %(cutoff)s)
                                       AND r.id NOT IN (SELECT id FROM kept)))
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs_history h
                            WHERE h.event_id = e.id
                              AND NOT hatchnb.history_row_expires(h.tableoid, h.history_at,
                                                                  %(cutoff)s)))
           AS events,
       (SELECT count(*) FROM hatchnb.scheduled_runs s
         WHERE s.run_id IS NOT NULL AND s.run_at < %(cutoff)s
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs r
                            WHERE r.id = s.run_id
                              AND NOT (hatchnb.run_expired(r, %(cutoff)s)
                                       AND r.id NOT IN (SELECT id FROM kept)))
           AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs_history h
                            WHERE h.id = s.run_id
                              AND NOT hatchnb.history_row_expires(h.tableoid, h.history_at,
                                                                  %(cutoff)s)))
           AS scheduled_runs,
       (SELECT count(*) FROM hatchnb.alert_deliveries WHERE created_at < %(cutoff)s)
           AS alert_deliveries,
       (SELECT count(*) FROM hatchnb.workers
         WHERE status <> 'ACTIVE' AND last_heartbeat_at < %(cutoff)s) AS workers,
       (SELECT count(*) FROM hatchnb.idempotency_keys WHERE expires_at < %(cutoff)s)
           AS idempotency_keys,
       (SELECT count(*) FROM hatchnb.otel_spans WHERE created_at < %(cutoff)s) AS otel_spans;

-- name: claim_retention_pass
-- Start a retention pass if none started within `every`; returns a row when one is due.
UPDATE hatchnb.retention_state SET last_started_at = now()
 WHERE id = 1
   AND (last_started_at IS NULL OR last_started_at <= now() - %(every)s::interval)
RETURNING last_started_at;

-- name: finish_retention_pass
-- Record the end of a retention pass and what it deleted.
UPDATE hatchnb.retention_state SET last_finished_at = now(), last_counts = %(counts)s
 WHERE id = 1;

-- name: retention_state
-- When retention last ran and what it deleted.
SELECT last_started_at, last_finished_at, last_counts FROM hatchnb.retention_state
 WHERE id = 1;
