-- Creating runs (enqueue.py): the bulk insert of one trigger's runs and child-key lookups.

-- name: insert_runs
-- Create workflow runs (a JSON array of {id, ord, input, meta, priority, parent, child_key,
-- and optional trigger, flow-control, sticky and desired-label fields})
-- and all their task runs, and wake workers; returns the keyed runs that were new (a child
-- key seen before skips its run), or one NULL row.
WITH u AS MATERIALIZED (
    SELECT * FROM jsonb_to_recordset(%(runs)s::jsonb)
        AS u (id uuid, ord integer, input jsonb, meta jsonb, priority smallint, parent bigint,
              child_key text, triggered_by text, event_id uuid, filter_payload jsonb,
              fc jsonb, sticky text, sticky_worker uuid, labels jsonb)
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
           s.spec ? 'batch' AS is_batch,
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
       AND (v.deleted_at IS NULL OR hatchnb.refuse_deleted_workflow(v.workflow_name))
), run_rows AS (
    SELECT u.id, v.workflow_name, v.version_id, 'QUEUED' AS status, u.input, u.meta,
           u.priority, u.parent, u.child_key, v.task_count, v.has_hooks, u.triggered_by,
           u.event_id, u.filter_payload, u.fc -> 'run' IS NOT NULL AS has_concurrency,
           u.sticky, u.sticky_worker
      FROM u, (SELECT * FROM v LIMIT 1) v
), new_runs AS (
    -- only keyed runs can conflict: ON CONFLICT makes every row a speculative insertion
    INSERT INTO hatchnb.workflow_runs (id, workflow_name, version_id, status, input,
                                       additional_metadata, priority, parent_task_run_id,
                                       child_key, pending_tasks, has_hooks, triggered_by,
                                       event_id, filter_payload, has_concurrency, sticky,
                                       sticky_worker_id)
    SELECT * FROM run_rows WHERE child_key IS NOT NULL
    ON CONFLICT (parent_task_run_id, child_key) WHERE child_key IS NOT NULL DO NOTHING
    RETURNING id, child_key
), unkeyed_runs AS (
    INSERT INTO hatchnb.workflow_runs (id, workflow_name, version_id, status, input,
                                       additional_metadata, priority, parent_task_run_id,
                                       child_key, pending_tasks, has_hooks, triggered_by,
                                       event_id, filter_payload, has_concurrency, sticky,
                                       sticky_worker_id)
    SELECT * FROM run_rows WHERE child_key IS NULL
), new_tasks AS (
    INSERT INTO hatchnb.task_runs (run_id, workflow_name, version_id, task_name, kind, parents,
                                   has_children, has_conditions, ready_at, status,
                                   pending_parents, priority, retries, backoff_factor,
                                   backoff_max_seconds, schedule_timeout, execution_timeout,
                                   queued_at, concurrency, rate_limits, slot_cost,
                                   desired_labels, routed, batch_key, batch_bytes)
    SELECT u.id, v.workflow_name, v.version_id, v.task_name, v.kind, v.parents,
           v.has_children, v.has_conditions, now(), v.status, v.pending_parents, u.priority,
           v.retries, v.backoff_factor, v.backoff_max_seconds, v.schedule_timeout,
           v.execution_timeout, now(), f.concurrency, f.rate_limits, v.slot_cost,
           f.desired_labels,
           v.slot_cost <> 1 OR f.desired_labels IS NOT NULL OR f.rate_limits IS NOT NULL
           OR u.sticky IS NOT NULL,
           -- a batch task's group (hatchnb.claim_task_batches); a key that could not be
           -- computed (null) leaves it to the plain claim, whose worker fails it
           CASE WHEN v.is_batch AND u.fc -> 'tasks' -> v.task_name -> 'batch_key' = 'null'
                THEN NULL
                WHEN v.is_batch
                THEN coalesce(u.fc -> 'tasks' -> v.task_name ->> 'batch_key', 'default') END,
           CASE WHEN v.is_batch THEN octet_length(u.input::text) END
      FROM u CROSS JOIN v
     CROSS JOIN LATERAL (
           SELECT nullif(coalesce(u.fc -> 'run', '[]') || coalesce(
                      u.fc -> 'tasks' -> v.task_name -> 'concurrency', '[]'), '[]')
                      AS concurrency,
                  u.fc -> 'tasks' -> v.task_name -> 'rate_limits' AS rate_limits,
                  -- labels given with the trigger override the task's of the same key
                  CASE WHEN u.labels IS NULL THEN v.desired_labels
                       ELSE coalesce(v.desired_labels, '{}') || u.labels END AS desired_labels
     ) AS f
     WHERE u.child_key IS NULL OR u.id IN (SELECT id FROM new_runs)
     ORDER BY u.ord, v.pos  -- ids in trigger order keep FIFO within a priority
)
SELECT r.id FROM (SELECT pg_notify('hatchnb_queued', '')) AS wake
  LEFT JOIN new_runs r ON r.child_key IS NOT NULL;

-- name: find_child_run
-- The run a parent task already spawned under a child key.
SELECT id FROM hatchnb.workflow_runs
 WHERE parent_task_run_id = %(parent_task_run_id)s AND child_key = %(child_key)s;

-- name: claim_idempotency_keys
-- Take the idempotency keys of a trigger's runs of one workflow (keys[i] for run_ids[i];
-- keys are shared by all workflows, as in Hatchet); a key is free when
-- nobody holds it, its holder's time is up, or (STATUS) its holder run has finished. The
-- first run of a batch naming a key gets it. Returns the run ids that got their key.
WITH wanted AS (
    SELECT DISTINCT ON (w.key) w.key, w.run_id
      FROM unnest(%(keys)s::text[], %(run_ids)s::uuid[]) WITH ORDINALITY AS w (key, run_id, ord)
     ORDER BY w.key, w.ord
)
INSERT INTO hatchnb.idempotency_keys AS k (workflow_name, key, run_id, method, expires_at)
SELECT %(workflow_name)s, w.key, w.run_id, %(method)s, now() + %(ttl)s FROM wanted w
ON CONFLICT (key) DO UPDATE
   SET workflow_name = excluded.workflow_name, run_id = excluded.run_id,
       method = excluded.method, expires_at = excluded.expires_at
 WHERE k.expires_at <= now()
    OR (k.method = 'STATUS'
        AND NOT EXISTS (SELECT 1 FROM hatchnb.workflow_runs r
                         WHERE r.id = k.run_id
                           AND r.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')))
RETURNING k.run_id;

-- name: idempotency_key_holders
-- The runs holding some keys.
SELECT key, run_id FROM hatchnb.idempotency_keys WHERE key = ANY (%(keys)s::text[]);

-- name: take_debounce_key
-- The run holding a workflow's debounce key, locked; a new key is given to `run_id`
-- (inserted: true).
INSERT INTO hatchnb.debounce_keys AS k (workflow_name, key, run_id)
VALUES (%(workflow_name)s, %(key)s, %(run_id)s)
ON CONFLICT (workflow_name, key) DO UPDATE SET key = excluded.key
RETURNING k.run_id, (xmax = 0) AS inserted;

-- name: defer_debounced_tasks
-- Push back the start of a debounced run's queued tasks; their ids (none once a worker took
-- them: the run has started). Tasks first: a claim skips rows locked here.
UPDATE hatchnb.task_runs SET available_at = now() + %(window)s
 WHERE run_id = %(run_id)s AND status = 'QUEUED'
RETURNING id;

-- name: replace_debounced_input
-- A debounced run not started yet takes the latest trigger's input and metadata.
UPDATE hatchnb.workflow_runs SET input = %(input)s, additional_metadata = %(meta)s
 WHERE id = %(run_id)s AND status = 'QUEUED';

-- name: move_debounce_key
-- The run a debounce key waits on has started: the key goes to the next run.
UPDATE hatchnb.debounce_keys SET run_id = %(run_id)s
 WHERE workflow_name = %(workflow_name)s AND key = %(key)s;
