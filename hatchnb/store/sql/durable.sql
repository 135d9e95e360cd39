-- The durable task log and event waits.

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
