-- Reading runs, cancel and replay, logs, outputs and notebooks (creating them: enqueue.sql).

-- name: notify_queued
-- Wake up workers waiting for work.
SELECT pg_notify('hatchnb_queued', '');

-- name: cancel_runs
-- Cancel runs (and their child runs); returns running task runs with their workers and the
-- attempt that was cancelled.
SELECT c.task_run_id, c.worker_id, t.attempt
  FROM hatchnb.cancel_runs(%(ids)s::uuid[]) c JOIN hatchnb.task_runs t ON t.id = c.task_run_id;

-- name: notify_cancel
-- Tell workers that task runs they hold were cancelled (payload: comma-separated
-- `id:attempt`; a worker already running a later attempt of that id keeps it).
SELECT pg_notify('hatchnb_cancel', %(payload)s);

-- name: replay_runs
-- Reset the task runs of finished runs so they run again: all of them, as Hatchet does, or
-- with failed_only the failed and cancelled ones and what is downstream (all of them when
-- none failed); with task_name that task and what is downstream. As in Hatchet a replay counts as a retry (retry_count goes up, so
-- ctx.retry_count > 0), with the task's declared retries available again on top of it.
WITH RECURSIVE target AS (
    SELECT id FROM hatchnb.workflow_runs
     WHERE id = ANY (%(ids)s::uuid[]) AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
       FOR UPDATE
), redo AS (
    SELECT t.run_id, t.task_name FROM hatchnb.task_runs t JOIN target ON t.run_id = target.id
     WHERE t.kind = 'task' AND (%(task_name)s::text IS NULL OR t.task_name = %(task_name)s)
       AND (NOT %(failed_only)s OR t.status IN ('FAILED', 'CANCELLED')
            OR NOT EXISTS (SELECT 1 FROM hatchnb.task_runs f
                            WHERE f.run_id = t.run_id AND f.kind = 'task'
                              AND f.status IN ('FAILED', 'CANCELLED')))
    UNION
    SELECT c.run_id, c.task_name FROM redo
      JOIN hatchnb.task_runs c ON c.run_id = redo.run_id AND redo.task_name = ANY (c.parents)
), reset AS (
    UPDATE hatchnb.task_runs t
       SET status = 'PENDING', retry_count = t.retry_count + 1,
           retries = t.retry_count + 1 + coalesce(
               (SELECT (s ->> 'retries')::int FROM hatchnb.workflow_versions v
                 CROSS JOIN LATERAL jsonb_array_elements(v.spec -> 'tasks') s
                 WHERE v.id = t.version_id AND s ->> 'name' = t.task_name),
               t.retries - t.retry_count),
           output = NULL, output_blob = NULL, error = NULL, reused_from = NULL,
           worker_id = NULL, started_at = NULL, finished_at = NULL, timeout_at = NULL,
           pending_parents = (SELECT count(*) FROM hatchnb.task_runs p
                               WHERE p.run_id = t.run_id AND p.task_name = ANY (t.parents)
                                 AND (p.run_id, p.task_name) NOT IN (SELECT * FROM redo)
                                 AND p.status <> 'SUCCEEDED') +
                            (SELECT count(*) FROM redo r
                              WHERE r.run_id = t.run_id AND r.task_name = ANY (t.parents))
      FROM (SELECT DISTINCT * FROM redo) d
     WHERE t.run_id = d.run_id AND t.task_name = d.task_name
    RETURNING t.run_id, t.id
), detach AS (
    -- children keyed by spawn order belong to the earlier execution: a replay spawns anew
    UPDATE hatchnb.workflow_runs c SET child_key = NULL
     WHERE c.parent_task_run_id IN (SELECT id FROM reset) AND c.child_key LIKE 'spawn-%%'
), hooks AS (
    DELETE FROM hatchnb.task_runs WHERE run_id IN (SELECT id FROM target) AND kind <> 'task'
    RETURNING run_id
)
UPDATE hatchnb.workflow_runs w
   SET status = 'RUNNING', finished_at = NULL, error = NULL, failed_tasks = 0,
       pending_tasks = (SELECT count(*) FROM reset WHERE reset.run_id = w.id)
  FROM target WHERE w.id = target.id
RETURNING w.id;

-- name: repin_replayed_runs
-- After replay_runs: a run whose workflow has since been registered with the same tasks
-- (names and parents) runs its reset tasks with that newest code (edit and re-run).
WITH latest AS (
    SELECT r.id AS run_id, t.version_id, v.spec
      FROM hatchnb.workflow_runs r
      JOIN hatchnb.workflow_triggers t ON t.workflow_name = r.workflow_name
      JOIN hatchnb.workflow_versions v ON v.id = t.version_id
     WHERE r.id = ANY (%(ids)s::uuid[]) AND t.version_id <> r.version_id
       AND (SELECT jsonb_agg(jsonb_build_array(s ->> 'name', s -> 'parents') ORDER BY s ->> 'name')
              FROM jsonb_array_elements(v.spec -> 'tasks') s)
         = (SELECT jsonb_agg(jsonb_build_array(p.task_name, to_jsonb(p.parents))
                             ORDER BY p.task_name)
              FROM hatchnb.task_runs p WHERE p.run_id = r.id AND p.kind = 'task')
), tasks AS (
    UPDATE hatchnb.task_runs tr
       SET version_id = l.version_id, retries = tr.retry_count + (s ->> 'retries')::int,
           backoff_factor = (s ->> 'backoff_factor')::double precision,
           backoff_max_seconds = (s ->> 'backoff_max_seconds')::int,
           schedule_timeout = (s ->> 'schedule_timeout')::interval,
           execution_timeout = (s ->> 'execution_timeout')::interval
      FROM latest l CROSS JOIN LATERAL jsonb_array_elements(l.spec -> 'tasks') s
     WHERE tr.run_id = l.run_id AND tr.kind = 'task' AND tr.status = 'PENDING'
       AND s ->> 'name' = tr.task_name
)
UPDATE hatchnb.workflow_runs r SET version_id = l.version_id
  FROM latest l WHERE r.id = l.run_id;

-- name: requeue_ready_task_runs
-- Queue reset PENDING tasks whose parents have all succeeded (after a replay).
UPDATE hatchnb.task_runs SET status = 'QUEUED', queued_at = now(), available_at = now()
 WHERE run_id = ANY (%(ids)s::uuid[]) AND kind = 'task' AND status = 'PENDING'
   AND pending_parents = 0;

-- name: restore_hooks
-- Recreate the on_failure / on_success hooks of replayed runs from their version's spec.
INSERT INTO hatchnb.task_runs (run_id, workflow_name, version_id, task_name, kind, status,
                               priority, retries, backoff_factor, backoff_max_seconds,
                               schedule_timeout, execution_timeout)
SELECT r.id, v.workflow_name, v.id, h ->> 'name', h ->> 'kind', 'PENDING',
       r.priority, (h ->> 'retries')::int, (h ->> 'backoff_factor')::double precision,
       (h ->> 'backoff_max_seconds')::int, (h ->> 'schedule_timeout')::interval,
       (h ->> 'execution_timeout')::interval
  FROM hatchnb.workflow_runs r
  JOIN hatchnb.workflow_versions v ON v.id = r.version_id
 CROSS JOIN LATERAL jsonb_array_elements(v.spec -> 'hooks') h
 WHERE r.id = ANY (%(ids)s::uuid[]);

-- name: history_range
-- The history_at range that can hold rows of runs whose ids fall in these id hours
-- (hatchnb.ids.run_id_hour; migration 0026): from the first day they were archived into to
-- the end of the last, as text ('infinity' is no Python datetime). By-id reads below filter
-- `history_at >= from AND (history_at = 'infinity' OR history_at < until)`: given as
-- parameters, the bounds prune the history partitions when the read is planned.
SELECT coalesce(min(day)::timestamp AT TIME ZONE 'UTC', 'infinity')::text AS history_from,
       coalesce((max(day) + 1)::timestamp AT TIME ZONE 'UTC', '-infinity')::text
           AS history_until
  FROM hatchnb.history_id_hours WHERE id_hour = ANY (%(hours)s::bigint[]);

-- name: get_run
-- One workflow run.
SELECT id, workflow_name, version_id, status, input, additional_metadata, priority,
       parent_task_run_id, child_key, error, created_at, started_at, finished_at,
       triggered_by, forked_from, forked_at_task
  FROM hatchnb.workflow_runs_all
 WHERE id = %(id)s AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz);

-- name: get_run_tasks
-- The task runs of one workflow run, in creation order.
SELECT id, run_id, task_name, kind, status, retry_count, attempt, worker_id,
       output, output_blob IS NOT NULL AS has_blob, error, queued_at, started_at, finished_at,
       parents, reused_from
  FROM hatchnb.task_runs_all
 WHERE run_id = %(run_id)s AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz)
 ORDER BY id;

-- name: get_runs_tasks
-- The task runs of several workflow runs (a page of the run list), in creation order.
SELECT id, run_id, task_name, kind, status, retry_count, attempt, worker_id,
       output, output_blob IS NOT NULL AS has_blob, error, queued_at, started_at, finished_at,
       parents, reused_from
  FROM hatchnb.task_runs_all
 WHERE run_id = ANY (%(ids)s::uuid[]) AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz)
 ORDER BY id;

-- name: parent_tasks_of_children
-- The task runs that spawned children created since `since` (one row per parent task), for
-- finding a parent by its derived public id.
SELECT DISTINCT p.id, p.run_id, p.task_name
  FROM hatchnb.workflow_runs_all c
  JOIN hatchnb.task_runs_all p ON p.id = c.parent_task_run_id
 WHERE c.created_at >= %(since)s AND c.parent_task_run_id IS NOT NULL;

-- name: task_run_ids_of_run
-- The task run ids of one workflow run (a standalone task's run id names its only task).
SELECT id FROM hatchnb.task_runs_all
 WHERE run_id = %(run_id)s AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz);

-- name: get_run_outputs
-- Outputs of the tasks of finished runs, for results.
SELECT run_id, task_name, kind, status, output, output_blob, error
  FROM hatchnb.task_runs_all
 WHERE run_id = ANY (%(ids)s::uuid[]) AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz)
 ORDER BY id;

-- name: run_statuses
-- Status and error of several runs.
SELECT id, status, error FROM hatchnb.workflow_runs_all
 WHERE id = ANY (%(ids)s::uuid[]) AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz);

-- name: list_runs
-- (Every run list below also filters history_at: see migrations/0022_run_history.sql.)
-- Runs filtered by time, status, workflow and metadata containment, newest first. No metadata
-- filter is NULL, not '{}': `@> '{}'` matches every row but could still be planned on the
-- metadata GIN index, which would then read all of it. A filter is never empty, so a run it
-- matches has metadata: `<> '{}'` says so, and lets the partial GIN index
-- (migrations/0023_lean_run_indexes.sql) serve it. `history_from` is `since`, or 'infinity'
-- for the hot table alone; `history_created_before` bounds the archived runs' created_at
-- (from the hourly totals), so the caller can tell whether the hot page is the whole page.
SELECT id, workflow_name, version_id, status, input, additional_metadata, priority,
       parent_task_run_id, child_key, error, created_at, started_at, finished_at,
       triggered_by, forked_from, forked_at_task,
       (SELECT max(c.created_hour) + interval '1 hour' FROM hatchnb.history_run_counts c)
           AS history_created_before
  FROM hatchnb.workflow_runs_all
 WHERE created_at >= %(since)s AND history_at >= %(history_from)s
   AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
   AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
   AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR (additional_metadata @> %(metadata)s::jsonb
        AND additional_metadata <> '{}'::jsonb))
   AND (%(parent_task_run_ids)s::bigint[] IS NULL
        OR parent_task_run_id = ANY (%(parent_task_run_ids)s::bigint[]))
   AND (%(event_id)s::uuid IS NULL OR event_id = %(event_id)s::uuid)
   AND (%(worker_id)s::uuid IS NULL OR EXISTS (
        SELECT 1 FROM hatchnb.task_runs_all t
         WHERE t.run_id = workflow_runs_all.id AND t.worker_id = %(worker_id)s::uuid))
 ORDER BY created_at DESC, id
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: list_task_runs
-- The task runs (hooks excluded) of the runs the list_runs filters pick (run statuses aside),
-- with a task status filter, newest run first.
SELECT t.id, t.run_id, t.workflow_name, t.task_name, t.kind, t.status, t.retry_count,
       t.attempt, t.worker_id, t.output, t.output_blob IS NOT NULL AS has_blob, t.error,
       t.queued_at, t.started_at, t.finished_at, t.parents, r.additional_metadata
  FROM hatchnb.workflow_runs_all r
  JOIN hatchnb.task_runs_all t ON t.run_id = r.id AND t.kind = 'task'
 WHERE r.created_at >= %(since)s AND r.history_at >= %(since)s
   AND (%(until)s::timestamptz IS NULL OR r.created_at <= %(until)s::timestamptz)
   AND (%(statuses)s::text[] IS NULL OR t.status = ANY (%(statuses)s::text[]))
   AND (%(workflows)s::text[] IS NULL OR r.workflow_name = ANY (%(workflows)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR (r.additional_metadata @> %(metadata)s::jsonb
        AND r.additional_metadata <> '{}'::jsonb))
   AND (%(parent_task_run_ids)s::bigint[] IS NULL
        OR r.parent_task_run_id = ANY (%(parent_task_run_ids)s::bigint[]))
   AND (%(event_id)s::uuid IS NULL OR r.event_id = %(event_id)s::uuid)
   AND (%(worker_id)s::uuid IS NULL OR t.worker_id = %(worker_id)s::uuid)
 ORDER BY r.created_at DESC, t.id
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: task_runs_of_located_run
-- The task runs (hooks included) of the runs a task run id can belong to (see
-- hatchnb.ids.run_locator): in its millisecond, ending in its bytes; almost always one run.
SELECT t.id, t.run_id, t.workflow_name, t.task_name, t.kind, t.status, t.retry_count,
       t.attempt, t.worker_id, t.output, t.output_blob IS NOT NULL AS has_blob, t.error,
       t.queued_at, t.started_at, t.finished_at, t.parents, r.additional_metadata
  FROM hatchnb.task_runs_all t
  JOIN hatchnb.workflow_runs_all r ON r.id = t.run_id
 WHERE t.run_id BETWEEN %(low)s::uuid AND %(high)s::uuid
   AND substring(uuid_send(t.run_id) FROM 12) = %(tail)s::bytea;

-- name: run_attempts
-- Finished attempts of the task runs of a run, oldest first (timelines).
SELECT task_run_id, task_name, attempt, worker_id, outcome, error, queued_at, started_at,
       finished_at
  FROM hatchnb.task_attempts_all
 WHERE run_id = %(run_id)s AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz)
 ORDER BY id;

-- name: run_logs
-- Log lines of all task runs of a run, oldest first.
SELECT t.task_name, l.attempt, l.level, l.message, l.created_at
  FROM hatchnb.task_logs_all l JOIN hatchnb.task_runs_all t ON t.id = l.task_run_id
 WHERE t.run_id = %(run_id)s AND t.history_at >= %(history_from)s::timestamptz
   AND (t.history_at = 'infinity' OR t.history_at < %(history_until)s::timestamptz)
   AND l.history_at >= %(history_from)s::timestamptz
   AND (l.history_at = 'infinity' OR l.history_at < %(history_until)s::timestamptz)
 ORDER BY l.id LIMIT %(limit)s;

-- name: task_run_logs
-- Log lines of one task run (all its attempts) within an optional time window, oldest first.
SELECT l.attempt, l.level, l.message, l.created_at
  FROM hatchnb.task_logs_all l
 WHERE l.task_run_id = %(task_run_id)s
   AND (%(since)s::timestamptz IS NULL OR l.created_at >= %(since)s::timestamptz)
   AND (%(until)s::timestamptz IS NULL OR l.created_at <= %(until)s::timestamptz)
 ORDER BY l.id LIMIT %(limit)s;

-- name: run_logs_after
-- Log lines of a run's task runs after a log id, oldest first (log streaming).
SELECT l.id, t.task_name, l.attempt, l.level, l.message, l.created_at
  FROM hatchnb.task_logs_all l JOIN hatchnb.task_runs_all t ON t.id = l.task_run_id
 WHERE t.run_id = %(run_id)s AND l.id > %(after)s
   AND t.history_at >= %(history_from)s::timestamptz
   AND (t.history_at = 'infinity' OR t.history_at < %(history_until)s::timestamptz)
   AND l.history_at >= %(history_from)s::timestamptz
   AND (l.history_at = 'infinity' OR l.history_at < %(history_until)s::timestamptz)
 ORDER BY l.id LIMIT %(limit)s;

-- name: run_durable_log
-- The durable event logs of all task runs of a run (each one's newest branch; a reset
-- branch starts with its 'branch' marker at seq 0).
SELECT t.task_name, d.branch, d.seq, d.kind, d.request, d.wake_at, d.event_key, d.result,
       d.done, d.created_at
  FROM hatchnb.durable_events_all d JOIN hatchnb.task_runs_all t ON t.id = d.task_run_id
 WHERE t.run_id = %(run_id)s
   AND d.branch = (SELECT max(b.branch) FROM hatchnb.durable_events_all b
                    WHERE b.task_run_id = d.task_run_id)
 ORDER BY t.id, d.seq;

-- name: task_output_blob
-- The pickled output of one task in a run.
SELECT output_blob FROM hatchnb.task_runs_all
 WHERE run_id = %(run_id)s AND task_name = %(task_name)s
   AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz);

-- name: task_run_facts
-- What a task's context tells on demand: its run's child key, parent run and triggering
-- event key, and its retries.
SELECT r.child_key, p.run_id AS parent_run_id, e.key AS event_key, t.retries
  FROM hatchnb.task_runs t
  JOIN hatchnb.workflow_runs r ON r.id = t.run_id
  LEFT JOIN hatchnb.task_runs p ON p.id = r.parent_task_run_id
  LEFT JOIN hatchnb.events e ON e.id = r.event_id
 WHERE t.id = %(id)s;

-- name: latest_task_notebook
-- The newest executed notebook of a task run, found by task run id or by run id and task name.
SELECT task_run_id, attempt, run_id, task_name, notebook, failed, created_at
  FROM hatchnb.task_notebooks_all
 WHERE (%(task_run_id)s::bigint IS NOT NULL AND task_run_id = %(task_run_id)s::bigint)
    OR (%(run_id)s::uuid IS NOT NULL AND run_id = %(run_id)s::uuid
        AND task_name = %(task_name)s::text)
 ORDER BY created_at DESC, attempt DESC LIMIT 1;

-- name: run_notebooks
-- Which tasks of a run have an executed notebook (newest attempt each).
SELECT DISTINCT ON (task_name) task_name, task_run_id, attempt, failed, created_at
  FROM hatchnb.task_notebooks_all
 WHERE run_id = %(run_id)s AND history_at >= %(history_from)s::timestamptz
   AND (history_at = 'infinity' OR history_at < %(history_until)s::timestamptz)
 ORDER BY task_name, created_at DESC;

-- name: stream_chunks_after
-- A run's stream chunks after a position, with the run's status.
SELECT c.id, c.data, r.status
  FROM hatchnb.workflow_runs_all r
  LEFT JOIN hatchnb.stream_chunks_all c ON c.run_id = r.id AND c.id > %(after)s
       AND c.history_at >= %(history_from)s::timestamptz
       AND (c.history_at = 'infinity' OR c.history_at < %(history_until)s::timestamptz)
 WHERE r.id = %(run_id)s AND r.history_at >= %(history_from)s::timestamptz
   AND (r.history_at = 'infinity' OR r.history_at < %(history_until)s::timestamptz)
 ORDER BY c.id;
