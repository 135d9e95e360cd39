-- Every statement hatchnb runs, each under a "-- name: <name>" header followed by a
-- one-line description. Loaded once by hatchnb.store.queries.

-- name: schema_exists
-- Whether the hatchnb schema has been created.
SELECT to_regclass('hatchnb.schema_version') IS NOT NULL AS present;

-- name: applied_migrations
-- The migrations applied so far.
SELECT version FROM hatchnb.schema_version;

-- name: record_migration
-- Remember that a migration was applied.
INSERT INTO hatchnb.schema_version (version) VALUES (%(version)s);

-- name: upsert_workflow_version
-- Store a workflow's code and spec once per content hash; returns the version id.
INSERT INTO hatchnb.workflow_versions (workflow_name, content_hash, python_version, spec, code,
                                       signature)
VALUES (%(workflow_name)s, %(content_hash)s, %(python_version)s, %(spec)s, %(code)s,
        %(signature)s)
ON CONFLICT (workflow_name, content_hash)
DO UPDATE SET signature = coalesce(EXCLUDED.signature, hatchnb.workflow_versions.signature)
RETURNING id;

-- name: get_workflow_version
-- One workflow version with its pickled code.
SELECT id, workflow_name, content_hash, python_version, spec, code, signature, created_at
  FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: latest_workflow_version
-- The newest version registered under a workflow name.
SELECT id, workflow_name, content_hash, python_version, spec, code, created_at
  FROM hatchnb.workflow_versions WHERE workflow_name = %(workflow_name)s
 ORDER BY id DESC LIMIT 1;

-- name: insert_runs
-- Create workflow runs (a JSON array of {id, ord, input, meta, priority, parent, child_key})
-- and all their task runs, and wake workers; returns the keyed runs that were new (a child
-- key seen before skips its run), or one NULL row.
WITH u AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(runs)s::jsonb)
        AS u (id uuid, ord integer, input jsonb, meta jsonb, priority smallint, parent bigint,
              child_key text, triggered_by text, event_id uuid, filter_payload jsonb,
              fc jsonb, sticky text, sticky_worker uuid)
), v AS MATERIALIZED (
    SELECT v.id AS version_id, v.workflow_name, s.pos, s.spec ->> 'name' AS task_name,
           s.spec ->> 'kind' AS kind,
           ARRAY(SELECT jsonb_array_elements_text(s.spec -> 'parents')) AS parents,
           (s.spec ->> 'has_children')::boolean AS has_children,
           CASE WHEN s.spec ->> 'kind' <> 'task' OR jsonb_array_length(s.spec -> 'parents') > 0
                THEN 'PENDING'
                WHEN (s.spec ->> 'has_conditions')::boolean THEN 'WAITING'
                ELSE 'QUEUED' END AS status,
           coalesce((s.spec ->> 'has_conditions')::boolean, false) AS has_conditions,
           jsonb_array_length(s.spec -> 'parents') AS pending_parents,
           (s.spec ->> 'retries')::int AS retries,
           (s.spec ->> 'backoff_factor')::double precision AS backoff_factor,
           (s.spec ->> 'backoff_max_seconds')::int AS backoff_max_seconds,
           (s.spec ->> 'schedule_timeout')::interval AS schedule_timeout,
           (s.spec ->> 'execution_timeout')::interval AS execution_timeout,
           coalesce((s.spec ->> 'slot_cost')::int, 1) AS slot_cost,
           nullif(s.spec -> 'desired_worker_labels', 'null') AS desired_labels,
           jsonb_array_length(v.spec -> 'tasks') AS task_count,
           jsonb_array_length(v.spec -> 'hooks') > 0 AS has_hooks
      FROM hatchnb.workflow_versions v
     CROSS JOIN LATERAL (
           SELECT t, n FROM jsonb_array_elements(v.spec -> 'tasks') WITH ORDINALITY AS a (t, n)
           UNION ALL
           SELECT h, 1000 + n FROM jsonb_array_elements(v.spec -> 'hooks')
                  WITH ORDINALITY AS b (h, n)
     ) AS s (spec, pos)
     WHERE v.id = %(version_id)s
), new_runs AS (
    INSERT INTO hatchnb.workflow_runs (id, workflow_name, version_id, status, input,
                                       additional_metadata, priority, parent_task_run_id,
                                       child_key, pending_tasks, has_hooks, triggered_by,
                                       event_id, filter_payload, has_concurrency, sticky,
                                       sticky_worker_id)
    SELECT u.id, v.workflow_name, v.version_id, 'QUEUED', u.input, u.meta, u.priority,
           u.parent, u.child_key, v.task_count, v.has_hooks, u.triggered_by, u.event_id,
           u.filter_payload, u.fc -> 'run' IS NOT NULL, u.sticky, u.sticky_worker
      FROM u, (SELECT * FROM v LIMIT 1) v
    ON CONFLICT (parent_task_run_id, child_key) WHERE child_key IS NOT NULL DO NOTHING
    RETURNING id, child_key
), new_tasks AS (
    INSERT INTO hatchnb.task_runs (run_id, workflow_name, version_id, task_name, kind, parents,
                                   has_children, has_conditions, ready_at, status,
                                   pending_parents, priority, retries, backoff_factor,
                                   backoff_max_seconds, schedule_timeout, execution_timeout,
                                   queued_at, concurrency, rate_limits, slot_cost,
                                   desired_labels, routed)
    SELECT u.id, v.workflow_name, v.version_id, v.task_name, v.kind, v.parents,
           v.has_children, v.has_conditions, now(), v.status, v.pending_parents, u.priority,
           v.retries, v.backoff_factor, v.backoff_max_seconds, v.schedule_timeout,
           v.execution_timeout, now(), f.concurrency, f.rate_limits, v.slot_cost,
           v.desired_labels,
           v.slot_cost <> 1 OR v.desired_labels IS NOT NULL OR f.rate_limits IS NOT NULL
           OR u.sticky IS NOT NULL
      FROM u CROSS JOIN v
     CROSS JOIN LATERAL (
           SELECT nullif(coalesce(u.fc -> 'run', '[]') || coalesce(
                      u.fc -> 'tasks' -> v.task_name -> 'concurrency', '[]'), '[]')
                      AS concurrency,
                  u.fc -> 'tasks' -> v.task_name -> 'rate_limits' AS rate_limits
     ) AS f
     WHERE u.child_key IS NULL OR u.id IN (SELECT id FROM new_runs)
     ORDER BY u.ord, v.pos  -- ids in trigger order keep FIFO within a priority
)
SELECT r.id FROM (SELECT pg_notify('hatchnb_queued', '')) AS wake
  LEFT JOIN new_runs r ON r.child_key IS NOT NULL;

-- name: notify_queued
-- Wake up workers waiting for work.
SELECT pg_notify('hatchnb_queued', '');

-- name: find_child_run
-- The run a parent task already spawned under a child key.
SELECT id FROM hatchnb.workflow_runs
 WHERE parent_task_run_id = %(parent_task_run_id)s AND child_key = %(child_key)s;

-- name: claim_task_runs
-- Take up to `slots` slots' worth of queued task runs (see hatchnb.claim_task_runs).
SELECT * FROM hatchnb.claim_task_runs(%(worker_id)s, %(limit)s, %(workflows)s::text[],
                                      %(python)s);

-- name: finish_task_runs
-- Apply a batch of results (see hatchnb.finish_task_runs in the migrations).
SELECT hatchnb.finish_task_runs(%(ids)s::bigint[], %(attempts)s::int[], %(outcomes)s::text[],
                                %(outputs)s::jsonb[], %(blobs)s::bytea[], %(errors)s::text[])
       AS applied;

-- name: task_output_blob
-- The pickled output of one task in a run.
SELECT output_blob FROM hatchnb.task_runs WHERE run_id = %(run_id)s AND task_name = %(task_name)s;

-- name: insert_logs
-- Append log lines of task runs.
INSERT INTO hatchnb.task_logs (task_run_id, attempt, level, message, created_at)
SELECT * FROM unnest(%(task_run_ids)s::bigint[], %(attempts)s::int[], %(levels)s::text[],
                     %(messages)s::text[], %(created)s::timestamptz[]);

-- name: register_worker
-- Announce a worker process.
INSERT INTO hatchnb.workers (id, name, slots, labels, workflows, python_version, hostname, pid)
VALUES (%(id)s, %(name)s, %(slots)s, %(labels)s, %(workflows)s, %(python_version)s,
        %(hostname)s, %(pid)s);

-- name: heartbeat_worker
-- Keep a worker alive; returns its status (DEAD when the engine gave up on it).
UPDATE hatchnb.workers SET last_heartbeat_at = now(),
       status = CASE WHEN status = 'DEAD' THEN 'ACTIVE' ELSE status END
 WHERE id = %(id)s
RETURNING (SELECT status FROM hatchnb.workers WHERE id = %(id)s) AS previous_status;

-- name: stop_worker
-- Mark a worker as stopped after a graceful shutdown.
UPDATE hatchnb.workers SET status = 'STOPPED', last_heartbeat_at = now() WHERE id = %(id)s;

-- name: hand_back_task_runs
-- Put running task runs of a stopping worker back in the queue (not counted as a retry).
UPDATE hatchnb.task_runs
   SET status = 'QUEUED', worker_id = NULL, timeout_at = NULL, queued_at = now(),
       available_at = now()
 WHERE id = ANY (%(ids)s) AND worker_id = %(worker_id)s AND status = 'RUNNING'
RETURNING id;

-- name: reap_dead_workers
-- Workers silent for longer than the timeout are dead; their running tasks go back to the queue.
WITH dead AS (
    UPDATE hatchnb.workers SET status = 'DEAD'
     WHERE status = 'ACTIVE' AND last_heartbeat_at < now() - %(timeout)s::interval
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
                   LIMIT 1000 FOR UPDATE SKIP LOCKED)
    RETURNING id, attempt, version_id, schedule_timeout::text AS schedule_timeout
)
SELECT e.id, e.attempt, e.schedule_timeout, v.python_version,
       (SELECT string_agg(DISTINCT w.python_version, ', ') FROM hatchnb.workers w
         WHERE w.status = 'ACTIVE') AS worker_pythons
  FROM expired e JOIN hatchnb.workflow_versions v ON v.id = e.version_id;

-- name: refresh_timeout
-- Push a running task's execution deadline further out.
UPDATE hatchnb.task_runs SET timeout_at = timeout_at + %(increment)s::interval
 WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'RUNNING'
RETURNING timeout_at;

-- name: cancel_runs
-- Cancel runs (and their child runs); returns running task runs with their workers.
SELECT task_run_id, worker_id FROM hatchnb.cancel_runs(%(ids)s::uuid[]);

-- name: notify_cancel
-- Tell workers that task runs they hold were cancelled (payload: comma-separated ids).
SELECT pg_notify('hatchnb_cancel', %(payload)s);

-- name: replay_runs
-- Reset failed, cancelled and downstream task runs of finished runs so they run again.
WITH RECURSIVE target AS (
    SELECT id FROM hatchnb.workflow_runs
     WHERE id = ANY (%(ids)s::uuid[]) AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
       FOR UPDATE
), redo AS (
    SELECT t.run_id, t.task_name FROM hatchnb.task_runs t JOIN target ON t.run_id = target.id
     WHERE t.kind = 'task' AND t.status IN ('FAILED', 'CANCELLED')
    UNION
    SELECT c.run_id, c.task_name FROM redo
      JOIN hatchnb.task_runs c ON c.run_id = redo.run_id AND redo.task_name = ANY (c.parents)
), reset AS (
    UPDATE hatchnb.task_runs t
       SET status = 'PENDING', retry_count = 0, output = NULL, output_blob = NULL, error = NULL,
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
       SET version_id = l.version_id, retries = (s ->> 'retries')::int,
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

-- name: get_run
-- One workflow run.
SELECT id, workflow_name, version_id, status, input, additional_metadata, priority,
       parent_task_run_id, child_key, error, created_at, started_at, finished_at
  FROM hatchnb.workflow_runs WHERE id = %(id)s;

-- name: get_run_tasks
-- The task runs of one workflow run, in creation order.
SELECT id, run_id, task_name, kind, status, retry_count, attempt, worker_id,
       output, output_blob IS NOT NULL AS has_blob, error, queued_at, started_at, finished_at,
       parents
  FROM hatchnb.task_runs WHERE run_id = %(run_id)s ORDER BY id;

-- name: get_run_outputs
-- Outputs of the tasks of finished runs, for results.
SELECT run_id, task_name, kind, status, output, output_blob, error
  FROM hatchnb.task_runs WHERE run_id = ANY (%(ids)s::uuid[]) ORDER BY id;

-- name: run_statuses
-- Status and error of several runs.
SELECT id, status, error FROM hatchnb.workflow_runs WHERE id = ANY (%(ids)s::uuid[]);

-- name: list_runs
-- Runs filtered by time, status, workflow and metadata containment, newest first. No metadata
-- filter is NULL, not '{}': `@> '{}'` matches every row but could still be planned on the
-- metadata GIN index (migration 0010), which would then read all of it.
SELECT id, workflow_name, version_id, status, input, additional_metadata, priority,
       parent_task_run_id, child_key, error, created_at, started_at, finished_at
  FROM hatchnb.workflow_runs
 WHERE created_at >= %(since)s
   AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
   AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
   AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR additional_metadata @> %(metadata)s::jsonb)
   AND (%(parent_task_run_id)s::bigint IS NULL
        OR parent_task_run_id = %(parent_task_run_id)s::bigint)
 ORDER BY created_at DESC, id
 LIMIT %(limit)s OFFSET %(offset)s;

-- name: task_run_logs
-- Log lines of one task run (all attempts), oldest first.
SELECT attempt, level, message, created_at FROM hatchnb.task_logs
 WHERE task_run_id = %(task_run_id)s ORDER BY id LIMIT %(limit)s;

-- name: run_logs
-- Log lines of all task runs of a run, oldest first.
SELECT t.task_name, l.attempt, l.level, l.message, l.created_at
  FROM hatchnb.task_logs l JOIN hatchnb.task_runs t ON t.id = l.task_run_id
 WHERE t.run_id = %(run_id)s ORDER BY l.id LIMIT %(limit)s;

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
-- target (SET LOCAL: the two statements run as one implicit transaction).
SET LOCAL default_statistics_target = 10;
ANALYZE hatchnb.task_runs (status, workflow_name, available_at, version_id, priority, id);

-- name: list_workers
-- Registered workers, most recent first.
SELECT id, name, slots, labels, workflows, python_version, hostname, pid, status, started_at,
       last_heartbeat_at,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.worker_id = w.id AND t.status = 'RUNNING') AS running
  FROM hatchnb.workers w ORDER BY started_at DESC LIMIT %(limit)s;

-- name: upsert_workflow_triggers
-- Remember the events the newest registration of a workflow listens to.
INSERT INTO hatchnb.workflow_triggers (workflow_name, version_id, on_events, default_priority)
VALUES (%(workflow_name)s, %(version_id)s, %(on_events)s, %(default_priority)s)
ON CONFLICT (workflow_name) DO UPDATE
   SET version_id = EXCLUDED.version_id, on_events = EXCLUDED.on_events,
       default_priority = EXCLUDED.default_priority, updated_at = now();

-- name: workflow_trigger
-- The version and default priority new runs of a workflow get (crons, schedules, events).
SELECT workflow_name, version_id, default_priority FROM hatchnb.workflow_triggers
 WHERE workflow_name = %(workflow_name)s;

-- name: drop_declared_crons
-- Remove declared crons of a workflow that its newest declaration no longer has.
DELETE FROM hatchnb.crons
 WHERE workflow_name = %(workflow_name)s AND declared AND NOT (name = ANY (%(keep)s::text[]));

-- name: upsert_cron
-- Create a cron (or update one with the same workflow and name); returns it.
INSERT INTO hatchnb.crons (id, workflow_name, name, expression, timezone, input,
                           additional_metadata, priority, declared, next_fire_at)
VALUES (%(id)s, %(workflow_name)s, %(name)s, %(expression)s, %(timezone)s, %(input)s,
        %(additional_metadata)s, %(priority)s, %(declared)s, %(next_fire_at)s)
ON CONFLICT (workflow_name, name) DO UPDATE
   SET expression = EXCLUDED.expression, timezone = EXCLUDED.timezone,
       input = EXCLUDED.input, additional_metadata = EXCLUDED.additional_metadata,
       priority = EXCLUDED.priority,
       next_fire_at = CASE WHEN hatchnb.crons.expression = EXCLUDED.expression
                            AND hatchnb.crons.timezone = EXCLUDED.timezone
                           THEN hatchnb.crons.next_fire_at ELSE EXCLUDED.next_fire_at END
RETURNING *;

-- name: list_crons
-- Crons, optionally of one workflow, by name.
SELECT * FROM hatchnb.crons
 WHERE %(workflow_name)s::text IS NULL OR workflow_name = %(workflow_name)s::text
 ORDER BY workflow_name, name LIMIT %(limit)s OFFSET %(offset)s;

-- name: get_cron
-- One cron.
SELECT * FROM hatchnb.crons WHERE id = %(id)s;

-- name: delete_cron
-- Delete a cron.
DELETE FROM hatchnb.crons WHERE id = %(id)s RETURNING id;

-- name: due_crons
-- Crons whose tick has come, locked so each tick fires once across engines.
SELECT * FROM hatchnb.crons WHERE next_fire_at <= now()
 ORDER BY next_fire_at LIMIT 100 FOR UPDATE SKIP LOCKED;

-- name: anything_due
-- Whether a cron tick or a scheduled run is due, and whether tasks wait on conditions.
SELECT EXISTS (SELECT 1 FROM hatchnb.crons WHERE next_fire_at <= now())
    OR EXISTS (SELECT 1 FROM hatchnb.scheduled_runs
                WHERE run_id IS NULL AND error IS NULL AND run_at <= now())
       AS due,
       EXISTS (SELECT 1 FROM hatchnb.task_runs WHERE status = 'WAITING') AS waiting;

-- name: advance_cron
-- Record a tick and the next one; `error` says why the tick started no run (NULL: it did).
UPDATE hatchnb.crons SET last_fired_at = %(fired_at)s, next_fire_at = %(next_fire_at)s,
       last_error = %(error)s
 WHERE id = %(id)s;

-- name: create_scheduled
-- A one-off run at a given time; returns it.
INSERT INTO hatchnb.scheduled_runs (id, workflow_name, run_at, input, additional_metadata,
                                    priority)
VALUES (%(id)s, %(workflow_name)s, %(run_at)s, %(input)s, %(additional_metadata)s,
        %(priority)s)
RETURNING *;

-- name: list_scheduled
-- Scheduled runs, optionally of one workflow, soonest first.
SELECT * FROM hatchnb.scheduled_runs
 WHERE %(workflow_name)s::text IS NULL OR workflow_name = %(workflow_name)s::text
 ORDER BY run_at LIMIT %(limit)s OFFSET %(offset)s;

-- name: get_scheduled
-- One scheduled run.
SELECT * FROM hatchnb.scheduled_runs WHERE id = %(id)s;

-- name: delete_scheduled
-- Delete a scheduled run that has not started.
DELETE FROM hatchnb.scheduled_runs WHERE id = %(id)s AND run_id IS NULL RETURNING id;

-- name: due_scheduled
-- Scheduled runs whose time has come, locked so each starts once (failed ones never again).
SELECT * FROM hatchnb.scheduled_runs WHERE run_id IS NULL AND error IS NULL AND run_at <= now()
 ORDER BY run_at LIMIT 100 FOR UPDATE SKIP LOCKED;

-- name: mark_scheduled_started
-- Link a scheduled run to the run it started.
UPDATE hatchnb.scheduled_runs SET run_id = %(run_id)s WHERE id = %(id)s;

-- name: mark_scheduled_failed
-- A scheduled run that could not start its run: it is not tried again.
UPDATE hatchnb.scheduled_runs SET error = %(error)s WHERE id = %(id)s;

-- name: insert_event
-- Store a pushed event.
INSERT INTO hatchnb.events (id, key, payload, additional_metadata, priority, scope)
VALUES (%(id)s, %(key)s, %(payload)s, %(additional_metadata)s, %(priority)s, %(scope)s)
RETURNING *;

-- name: workflows_for_event
-- Workflows with an on_events pattern matching the key ('*' matches any characters).
SELECT DISTINCT t.workflow_name, t.version_id, t.default_priority
  FROM hatchnb.workflow_triggers t, unnest(t.on_events) AS p (pattern)
 WHERE %(key)s LIKE replace(replace(replace(replace(p.pattern, '\', '\\'), '%%', '\%%'),
                                    '_', '\_'), '*', '%%');

-- name: filters_for_workflow
-- Event filters of a workflow in a scope.
SELECT * FROM hatchnb.filters WHERE workflow_name = %(workflow_name)s AND scope = %(scope)s;

-- name: create_filter
-- An event filter; returns it.
INSERT INTO hatchnb.filters (id, workflow_name, expression, scope, payload)
VALUES (%(id)s, %(workflow_name)s, %(expression)s, %(scope)s, %(payload)s)
RETURNING *;

-- name: list_filters
-- Filters, optionally of one workflow.
SELECT * FROM hatchnb.filters
 WHERE %(workflow_name)s::text IS NULL OR workflow_name = %(workflow_name)s::text
 ORDER BY created_at LIMIT %(limit)s;

-- name: delete_filter
-- Delete a filter.
DELETE FROM hatchnb.filters WHERE id = %(id)s RETURNING id;

-- name: get_event
-- One event with the runs it started.
SELECT e.*, coalesce((SELECT array_agg(r.id ORDER BY r.created_at) FROM hatchnb.workflow_runs r
                       WHERE r.event_id = e.id), '{}') AS run_ids
  FROM hatchnb.events e WHERE e.id = %(id)s;

-- name: list_events
-- Events, newest first, optionally with one key, with the runs they started.
SELECT e.*, coalesce((SELECT array_agg(r.id ORDER BY r.created_at) FROM hatchnb.workflow_runs r
                       WHERE r.event_id = e.id), '{}') AS run_ids
  FROM hatchnb.events e
 WHERE %(key)s::text IS NULL OR e.key = %(key)s::text
 ORDER BY e.created_at DESC LIMIT %(limit)s;

-- name: put_stream_chunk
-- Append a chunk to a run's stream and wake its subscribers.
WITH chunk AS (
    INSERT INTO hatchnb.stream_chunks (run_id, task_run_id, data)
    VALUES (%(run_id)s, %(task_run_id)s, %(data)s) RETURNING run_id
)
SELECT pg_notify('hatchnb_stream', run_id::text) FROM chunk;

-- name: stream_chunks_after
-- A run's stream chunks after a position, with the run's status.
SELECT c.id, c.data, r.status
  FROM hatchnb.workflow_runs r
  LEFT JOIN hatchnb.stream_chunks c ON c.run_id = r.id AND c.id > %(after)s
 WHERE r.id = %(run_id)s
 ORDER BY c.id;

-- name: durable_log
-- The event log of a durable task run, in order.
SELECT seq, kind, request, wake_at, event_key, expression, since, result, done
  FROM hatchnb.durable_events WHERE task_run_id = %(task_run_id)s ORDER BY seq;

-- name: durable_record
-- Append an entry to a durable task run's event log (a replay keeps the first one).
INSERT INTO hatchnb.durable_events (task_run_id, seq, kind, request, wake_at, event_key,
                                    expression, since, result, done)
VALUES (%(task_run_id)s, %(seq)s, %(kind)s, %(request)s, %(wake_at)s, %(event_key)s,
        %(expression)s, %(since)s, %(result)s, %(done)s)
ON CONFLICT (task_run_id, seq) DO NOTHING;

-- name: durable_complete
-- Record the result of a durable wait.
UPDATE hatchnb.durable_events SET result = %(result)s, done = true
 WHERE task_run_id = %(task_run_id)s AND seq = %(seq)s;

-- name: events_since
-- Events with a key pushed since a moment, oldest first (durable waits check them).
SELECT id, payload, additional_metadata, created_at FROM hatchnb.events
 WHERE key = %(key)s AND created_at >= %(since)s ORDER BY created_at, id LIMIT 1000;

-- name: wake_event_waiters
-- Durable task runs evicted while waiting for this event key run again now (a wait_for
-- entry lists its event keys separated by '|').
UPDATE hatchnb.task_runs SET available_at = now()
 WHERE status = 'QUEUED'
   AND id IN (SELECT task_run_id FROM hatchnb.durable_events
               WHERE kind IN ('event', 'wait') AND NOT done
                 AND %(key)s = ANY (string_to_array(event_key, '|')));

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

-- ---- dashboard reads (issue 6) -------------------------------------------------------------

-- name: count_runs
-- How many runs match the list_runs filters, counting no further than `cap` (NULL: all).
SELECT count(*) AS total FROM (
    SELECT 1 FROM hatchnb.workflow_runs
     WHERE created_at >= %(since)s
       AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
       AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
       AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
       AND (%(metadata)s::jsonb IS NULL OR additional_metadata @> %(metadata)s::jsonb)
       AND (%(parent_task_run_id)s::bigint IS NULL
            OR parent_task_run_id = %(parent_task_run_id)s::bigint)
     LIMIT %(cap)s
) matching;

-- name: run_status_counts
-- Runs per status under the list_runs filters (statuses excepted), at most `cap` per status
-- (NULL: no cap). With a workflow, metadata or parent filter the matching runs are grouped
-- (a per-status walk would fetch every run of a status the filter excludes).
SELECT status, least(count(*), %(cap)s) AS total
  FROM hatchnb.workflow_runs
 WHERE created_at >= %(since)s
   AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
   AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR additional_metadata @> %(metadata)s::jsonb)
   AND (%(parent_task_run_id)s::bigint IS NULL
        OR parent_task_run_id = %(parent_task_run_id)s::bigint)
 GROUP BY status;

-- name: run_status_counts_in_range
-- run_status_counts with only a time range: the statuses present are found by skipping
-- through the (status, created_at) index one status at a time, then each is counted on its
-- own range of that index (index-only once vacuumed), reading at most `cap` entries each.
WITH RECURSIVE present (status) AS (
    SELECT min(status) FROM hatchnb.workflow_runs
    UNION ALL
    SELECT (SELECT min(r.status) FROM hatchnb.workflow_runs r WHERE r.status > p.status)
      FROM present p WHERE p.status IS NOT NULL
)
SELECT p.status, c.total
  FROM present p
 CROSS JOIN LATERAL (
    SELECT count(*) AS total FROM (
        SELECT 1 FROM hatchnb.workflow_runs r
         WHERE r.status = p.status AND r.created_at >= %(since)s
           AND (%(until)s::timestamptz IS NULL OR r.created_at <= %(until)s::timestamptz)
         LIMIT %(cap)s
    ) matching
 ) c
 WHERE p.status IS NOT NULL AND c.total > 0;

-- name: run_attempts
-- Finished attempts of the task runs of a run, oldest first (timelines).
SELECT task_run_id, task_name, attempt, worker_id, outcome, error, queued_at, started_at,
       finished_at
  FROM hatchnb.task_attempts WHERE run_id = %(run_id)s ORDER BY id;

-- name: run_logs_after
-- Log lines of a run's task runs after a log id, oldest first (log streaming).
SELECT l.id, t.task_name, l.attempt, l.level, l.message, l.created_at
  FROM hatchnb.task_logs l JOIN hatchnb.task_runs t ON t.id = l.task_run_id
 WHERE t.run_id = %(run_id)s AND l.id > %(after)s ORDER BY l.id LIMIT %(limit)s;

-- name: run_durable_log
-- The durable event logs of all task runs of a run.
SELECT t.task_name, d.seq, d.kind, d.request, d.wake_at, d.event_key, d.result, d.done,
       d.created_at
  FROM hatchnb.durable_events d JOIN hatchnb.task_runs t ON t.id = d.task_run_id
 WHERE t.run_id = %(run_id)s ORDER BY t.id, d.seq;

-- name: list_workflows
-- Registered workflows with their newest version and version count.
SELECT workflow_name, count(*) AS versions, max(id) AS latest_version_id,
       max(created_at) AS updated_at
  FROM hatchnb.workflow_versions GROUP BY workflow_name ORDER BY workflow_name;

-- name: list_workflow_versions
-- The versions of one workflow, newest first (spec, no code).
SELECT id, workflow_name, content_hash, python_version, spec, created_at
  FROM hatchnb.workflow_versions WHERE workflow_name = %(workflow_name)s ORDER BY id DESC;

-- name: get_workflow_spec
-- One version's spec (no code).
SELECT id, workflow_name, content_hash, python_version, spec, created_at
  FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: running_task_runs
-- Task runs running on workers, oldest first.
SELECT worker_id, run_id, task_name, attempt, started_at
  FROM hatchnb.task_runs WHERE status = 'RUNNING' ORDER BY started_at LIMIT %(limit)s;

-- name: trigger_scheduled_now
-- Move a not yet started scheduled run to now (the engine starts it at its next round); a
-- failed one is tried again.
UPDATE hatchnb.scheduled_runs SET run_at = now(), error = NULL
 WHERE id = %(id)s AND run_id IS NULL
RETURNING id;

-- ---- metrics -------------------------------------------------------------------------------

-- name: queue_depth
-- Queued task runs per workflow (ready now, and delayed by a retry backoff or eviction).
SELECT workflow_name, count(*) FILTER (WHERE available_at <= now()) AS ready,
       count(*) FILTER (WHERE available_at > now()) AS delayed
  FROM hatchnb.task_runs WHERE status = 'QUEUED' GROUP BY workflow_name;

-- name: task_status_counts
-- Task runs per status.
SELECT status, count(*) AS total FROM hatchnb.task_runs GROUP BY status;

-- name: attempt_throughput
-- Finished attempts per time bucket and outcome since a moment.
SELECT date_bin(%(bucket)s::interval, finished_at, TIMESTAMPTZ '2000-01-01') AS bucket,
       outcome, count(*) AS total
  FROM hatchnb.task_attempts WHERE finished_at >= %(since)s
 GROUP BY 1, 2 ORDER BY 1;

-- name: queue_latency_histogram
-- Queue-to-start latency of attempts finished since a moment: count and sum per bucket
-- (bucket i counts latencies below bounds[i], the last one everything above).
SELECT width_bucket(extract(epoch FROM started_at - queued_at)::float8,
                    %(bounds)s::float8[]) AS bucket,
       count(*) AS total, sum(extract(epoch FROM started_at - queued_at)) AS seconds
  FROM hatchnb.task_attempts
 WHERE finished_at >= %(since)s AND started_at IS NOT NULL AND queued_at IS NOT NULL
 GROUP BY 1 ORDER BY 1;

-- ---- alerts --------------------------------------------------------------------------------

-- name: get_alert_settings
-- The alert settings row, if alerts were ever configured.
SELECT * FROM hatchnb.alert_settings WHERE id = 1;

-- name: upsert_alert_settings
-- Create or change the alert settings; returns them.
INSERT INTO hatchnb.alert_settings (id, slack_webhook_url, email, on_failure,
                                    on_schedule_timeout, window_seconds)
VALUES (1, %(slack_webhook_url)s, %(email)s, %(on_failure)s, %(on_schedule_timeout)s,
        %(window_seconds)s)
ON CONFLICT (id) DO UPDATE
   SET slack_webhook_url = EXCLUDED.slack_webhook_url, email = EXCLUDED.email,
       on_failure = EXCLUDED.on_failure, on_schedule_timeout = EXCLUDED.on_schedule_timeout,
       window_seconds = EXCLUDED.window_seconds, updated_at = now()
RETURNING *;

-- name: alerts_have_work
-- Whether the alert duty has anything to do: new failures, due digests or due deliveries.
SELECT EXISTS (
           SELECT 1 FROM hatchnb.workflow_runs r, hatchnb.alert_settings s
            WHERE r.status = 'FAILED' AND r.finished_at >= greatest(s.since, now() - interval '2 days')
              AND NOT EXISTS (SELECT 1 FROM hatchnb.alerted_runs a WHERE a.run_id = r.id))
    OR EXISTS (
           SELECT 1 FROM hatchnb.alert_windows w, hatchnb.alert_settings s
            WHERE w.held_back > 0 AND w.opened_at + s.window_seconds * interval '1 second' <= now())
    OR EXISTS (
           SELECT 1 FROM hatchnb.alert_deliveries
            WHERE status <> 'SENT' AND attempts < %(max_attempts)s AND next_attempt_at <= now())
       AS work;

-- name: new_failed_runs
-- Failed runs not yet alerted (finished after alerts were configured, within two days).
SELECT r.id, r.workflow_name, r.error, r.finished_at
  FROM hatchnb.workflow_runs r, hatchnb.alert_settings s
 WHERE r.status = 'FAILED' AND r.finished_at >= greatest(s.since, now() - interval '2 days')
   AND NOT EXISTS (SELECT 1 FROM hatchnb.alerted_runs a WHERE a.run_id = r.id)
 ORDER BY r.finished_at LIMIT 10000;

-- name: mark_runs_alerted
-- Remember that failed runs were handled by the alert duty.
INSERT INTO hatchnb.alerted_runs (run_id) SELECT unnest(%(ids)s::uuid[])
ON CONFLICT DO NOTHING;

-- name: prune_alerted_runs
-- Forget alerted runs older than the alert look-back.
DELETE FROM hatchnb.alerted_runs WHERE alerted_at < now() - interval '3 days';

-- name: lock_alert_window
-- A workflow's alert window, locked; whether it is still open.
SELECT w.workflow_name, w.opened_at, w.held_back,
       w.opened_at + s.window_seconds * interval '1 second' > now() AS open
  FROM hatchnb.alert_windows w, hatchnb.alert_settings s
 WHERE w.workflow_name = %(workflow_name)s FOR UPDATE OF w;

-- name: open_alert_window
-- Start a new window for a workflow after sending it an alert.
INSERT INTO hatchnb.alert_windows (workflow_name, opened_at, held_back, held_kinds)
VALUES (%(workflow_name)s, now(), %(held_back)s, %(held_kinds)s)
ON CONFLICT (workflow_name) DO UPDATE
   SET opened_at = now(), held_back = EXCLUDED.held_back, held_kinds = EXCLUDED.held_kinds;

-- name: hold_back_alerts
-- Count failures held back in a workflow's open window (they go into its digest).
UPDATE hatchnb.alert_windows
   SET held_back = held_back + %(count)s,
       held_kinds = ARRAY(SELECT DISTINCT unnest(held_kinds || %(kinds)s::text[]))
 WHERE workflow_name = %(workflow_name)s;

-- name: take_due_digests
-- Windows that ended with held-back failures: returns their counts and restarts them.
WITH due AS (
    SELECT w.workflow_name, w.opened_at, w.held_back, w.held_kinds
      FROM hatchnb.alert_windows w, hatchnb.alert_settings s
     WHERE w.held_back > 0 AND w.opened_at + s.window_seconds * interval '1 second' <= now()
       FOR UPDATE OF w
)
UPDATE hatchnb.alert_windows w SET opened_at = now(), held_back = 0, held_kinds = '{}'
  FROM due WHERE w.workflow_name = due.workflow_name
RETURNING due.workflow_name, due.opened_at, due.held_back, due.held_kinds;

-- name: queue_alert_delivery
-- Put a message in the alert outbox for one channel.
INSERT INTO hatchnb.alert_deliveries (kind, channel, workflow_name, run_id, subject, body,
                                      status, attempts, last_error, sent_at)
VALUES (%(kind)s, %(channel)s, %(workflow_name)s, %(run_id)s, %(subject)s, %(body)s,
        %(status)s, %(attempts)s, %(last_error)s,
        CASE WHEN %(status)s = 'SENT' THEN now() END)
RETURNING id;

-- name: due_alert_deliveries
-- Outbox messages to (re)send now, oldest first.
SELECT id, kind, channel, workflow_name, run_id, subject, body, attempts
  FROM hatchnb.alert_deliveries
 WHERE status <> 'SENT' AND attempts < %(max_attempts)s AND next_attempt_at <= now()
 ORDER BY id LIMIT 100;

-- name: mark_alert_sent
-- An outbox message was delivered.
UPDATE hatchnb.alert_deliveries
   SET status = 'SENT', attempts = attempts + 1, sent_at = now(), last_error = NULL
 WHERE id = %(id)s;

-- name: mark_alert_failed
-- Sending an outbox message failed: record the error and when to try again.
UPDATE hatchnb.alert_deliveries
   SET status = 'ERROR', attempts = attempts + 1, last_error = %(error)s,
       next_attempt_at = now() + %(retry_in)s::interval
 WHERE id = %(id)s;

-- name: list_alert_deliveries
-- Recent outbox messages with their delivery state, newest first.
SELECT id, kind, channel, workflow_name, run_id, subject, body, status, attempts, last_error,
       created_at, sent_at
  FROM hatchnb.alert_deliveries ORDER BY id DESC LIMIT %(limit)s;

-- name: save_task_notebook
-- Store the executed notebook of a notebook task run attempt.
INSERT INTO hatchnb.task_notebooks (task_run_id, attempt, run_id, task_name, notebook, failed)
VALUES (%(task_run_id)s, %(attempt)s, %(run_id)s, %(task_name)s, %(notebook)s, %(failed)s)
ON CONFLICT (task_run_id, attempt) DO UPDATE
   SET notebook = EXCLUDED.notebook, failed = EXCLUDED.failed, created_at = now();

-- name: latest_task_notebook
-- The newest executed notebook of a task run, found by task run id or by run id and task name.
SELECT task_run_id, attempt, run_id, task_name, notebook, failed, created_at
  FROM hatchnb.task_notebooks
 WHERE (%(task_run_id)s::bigint IS NOT NULL AND task_run_id = %(task_run_id)s::bigint)
    OR (%(run_id)s::uuid IS NOT NULL AND run_id = %(run_id)s::uuid
        AND task_name = %(task_name)s::text)
 ORDER BY created_at DESC, attempt DESC LIMIT 1;

-- name: run_notebooks
-- Which tasks of a run have an executed notebook (newest attempt each).
SELECT DISTINCT ON (task_name) task_name, task_run_id, attempt, failed, created_at
  FROM hatchnb.task_notebooks WHERE run_id = %(run_id)s
 ORDER BY task_name, created_at DESC;

-- name: put_rate_limit
-- Create or change a static rate limit (the current window keeps its usage).
INSERT INTO hatchnb.rate_limits (key, limit_value, duration)
VALUES (%(key)s, %(limit)s, %(duration)s)
ON CONFLICT (key) DO UPDATE
   SET limit_value = excluded.limit_value, duration = excluded.duration, updated_at = now();

-- name: ensure_rate_limit
-- A dynamic rate limit key gets (or updates to) the limit its task declares.
INSERT INTO hatchnb.rate_limits AS l (key, limit_value, duration)
VALUES (%(key)s, %(limit)s, %(duration)s)
ON CONFLICT (key) DO UPDATE
   SET limit_value = excluded.limit_value, duration = excluded.duration, updated_at = now()
 WHERE l.limit_value <> excluded.limit_value OR l.duration <> excluded.duration
RETURNING key;

-- name: get_rate_limit
-- One rate limit.
SELECT key, limit_value, duration FROM hatchnb.rate_limits WHERE key = %(key)s;

-- name: list_rate_limits
-- Every rate limit with the units used in its current window and the task runs queued on it.
SELECT l.key, l.limit_value, l.duration, l.window_start,
       CASE WHEN hatchnb.rate_limit_expired(l) THEN 0 ELSE l.used END AS used,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.status IN ('QUEUED', 'BLOCKED') AND t.rate_limits IS NOT NULL
           AND t.rate_limits @> jsonb_build_array(jsonb_build_object('key', l.key)))::int
           AS queued
  FROM hatchnb.rate_limits l ORDER BY l.key;

-- name: list_concurrency_keys
-- Every concurrency key with its holders (running) and waiters (queued).
SELECT s.workflow_name, s.task_name, s.expression, s.key, s.strategy, s.max_runs,
       (SELECT count(*) FROM hatchnb.concurrency_holds h WHERE h.slot = s.slot)::int AS running,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.status = 'BLOCKED' AND t.wait_key = s.slot)::int AS queued
  FROM hatchnb.concurrency_slots s
 WHERE %(workflow)s::text IS NULL OR s.workflow_name = %(workflow)s::text
 ORDER BY s.workflow_name, s.task_name NULLS FIRST, s.expression, s.key;

-- name: sweep_concurrency
-- The leader's concurrency duties (see hatchnb.sweep_concurrency); returns cancelled running
-- task runs so their workers can be told.
SELECT task_run_id AS id, worker_id FROM hatchnb.sweep_concurrency();

-- name: release_slot
-- ctx.release_slot(): the task keeps running but no longer counts against its worker.
UPDATE hatchnb.task_runs SET slot_released = true
 WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'RUNNING';

-- name: update_worker_labels
-- Merge labels into a worker's labels (used by the next assignment).
UPDATE hatchnb.workers SET labels = labels || %(labels)s::jsonb WHERE id = %(id)s
RETURNING labels;

-- name: version_spec
-- The spec of one workflow version.
SELECT spec FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: current_workflow_version
-- The version a workflow name currently runs (the last one registered under it).
SELECT version_id FROM hatchnb.workflow_triggers WHERE workflow_name = %(workflow_name)s;
