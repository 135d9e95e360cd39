-- The durable task log and event waits.

-- name: durable_log
-- The event log of a durable task run (its newest branch, marker included), in order.
SELECT branch, seq, kind, request, wake_at, event_key, expression, since, result, done
  FROM hatchnb.durable_events
 WHERE task_run_id = %(task_run_id)s
   AND branch = (SELECT max(branch) FROM hatchnb.durable_events
                  WHERE task_run_id = %(task_run_id)s)
 ORDER BY seq;

-- name: durable_record
-- Append an entry to a durable task run's event log, on its newest branch (a replay keeps
-- the first one at a position).
INSERT INTO hatchnb.durable_events (task_run_id, branch, seq, kind, request, wake_at,
                                    event_key, expression, since, result, done)
SELECT %(task_run_id)s, coalesce(max(branch), 1), %(seq)s, %(kind)s, %(request)s,
       %(wake_at)s, %(event_key)s, %(expression)s, %(since)s, %(result)s, %(done)s
  FROM hatchnb.durable_events WHERE task_run_id = %(task_run_id)s
ON CONFLICT (task_run_id, branch, seq) DO NOTHING;

-- name: durable_complete
-- Record the result of a durable wait (on the newest branch).
UPDATE hatchnb.durable_events SET result = %(result)s, done = true
 WHERE task_run_id = %(task_run_id)s AND seq = %(seq)s
   AND branch = (SELECT max(branch) FROM hatchnb.durable_events
                  WHERE task_run_id = %(task_run_id)s);

-- name: durable_woke
-- When the results of children woke a durable task run (their spawn entries, newest
-- branch): a replay hands concurrent branches their results in that order.
UPDATE hatchnb.durable_events SET wake_at = %(at)s
 WHERE task_run_id = %(task_run_id)s AND seq = ANY (%(seqs)s) AND wake_at IS NULL
   AND branch = (SELECT max(branch) FROM hatchnb.durable_events
                  WHERE task_run_id = %(task_run_id)s);

-- name: durable_branch
-- Start a new branch of a durable task run's log from a node of one of its branches: the
-- entries before the node are copied, the rest will be redone. Returns the new branch; no
-- row when the task run has no such branch.
WITH source AS (
    SELECT coalesce(max(branch), 0) + 1 AS new_branch,
           bool_or(branch = %(branch)s) OR (%(branch)s = 1 AND count(*) = 0) AS known
      FROM hatchnb.durable_events WHERE task_run_id = %(task_run_id)s
), marker AS (
    INSERT INTO hatchnb.durable_events (task_run_id, branch, seq, kind, request, done)
    SELECT %(task_run_id)s, new_branch, 0, 'branch',
           format('from branch %%s at node %%s', %(branch)s, %(node_id)s), true
      FROM source WHERE known
), copied AS (
    INSERT INTO hatchnb.durable_events (task_run_id, branch, seq, kind, request, wake_at,
                                        event_key, expression, since, result, done)
    SELECT e.task_run_id, s.new_branch, e.seq, e.kind, e.request, e.wake_at, e.event_key,
           e.expression, e.since, e.result, e.done
      FROM hatchnb.durable_events e CROSS JOIN source s
     WHERE s.known AND e.task_run_id = %(task_run_id)s AND e.branch = %(branch)s
       AND e.seq > 0 AND e.seq < %(node_id)s
)
SELECT new_branch FROM source WHERE known;

-- name: events_since
-- Events with a key pushed since a moment, oldest first (durable waits check them).
SELECT id, payload, additional_metadata, scope, created_at FROM hatchnb.events
 WHERE key = %(key)s AND created_at >= %(since)s ORDER BY created_at, id LIMIT 1000;

-- name: wake_event_waiters
-- Durable task runs evicted while waiting for this event key run again now (a wait_for
-- entry lists its event keys separated by '|').
UPDATE hatchnb.task_runs SET available_at = now()
 WHERE status = 'QUEUED'
   AND id IN (SELECT task_run_id FROM hatchnb.durable_events
               WHERE kind IN ('event', 'wait') AND NOT done
                 AND %(key)s = ANY (string_to_array(event_key, '|')));

-- name: durable_tasks_of_run
-- The durable task runs of a workflow run, with the run's status.
SELECT t.id, t.task_name, r.status AS run_status
  FROM hatchnb.task_runs t
  JOIN hatchnb.workflow_runs r ON r.id = t.run_id
  JOIN hatchnb.workflow_versions v ON v.id = t.version_id
 CROSS JOIN LATERAL jsonb_array_elements(v.spec -> 'tasks') s
 WHERE t.run_id = %(run_id)s AND t.kind = 'task' AND s ->> 'name' = t.task_name
   AND coalesce((s ->> 'durable')::boolean, false)
 ORDER BY t.id
   FOR UPDATE OF r;

-- name: await_children
-- A durable task run gives its slot back while its children run: wake it when one finishes
-- after `since` (the engine's wake_child_waiters).
INSERT INTO hatchnb.child_waits (task_run_id, since) VALUES (%(task_run_id)s, %(since)s)
ON CONFLICT (task_run_id) DO UPDATE SET since = EXCLUDED.since;

-- name: evicted_task_runs
-- Queued durable task runs that started before (they have a log): evicted, or handed back,
-- and waiting to resume. `run_id` NULL: of every run.
SELECT t.id, t.run_id, t.task_name FROM hatchnb.task_runs t
 WHERE t.status = 'QUEUED'
   AND (%(run_id)s::uuid IS NULL OR t.run_id = %(run_id)s::uuid)
   AND EXISTS (SELECT 1 FROM hatchnb.durable_events e WHERE e.task_run_id = t.id);

-- name: restore_task_runs
-- Evicted durable task runs run again now instead of at their wake-up time.
WITH restored AS (
    UPDATE hatchnb.task_runs SET available_at = now()
     WHERE id = ANY (%(ids)s::bigint[]) AND status = 'QUEUED' AND available_at > now()
    RETURNING id
)
SELECT count(*) AS restored,
       CASE WHEN count(*) > 0 THEN pg_notify('hatchnb_queued', '') END AS notified
  FROM restored;
