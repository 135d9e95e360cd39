-- Crons and one-off schedules.

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
SELECT * FROM hatchnb.crons WHERE next_fire_at <= now() AND paused_at IS NULL
 ORDER BY next_fire_at LIMIT 100 FOR UPDATE SKIP LOCKED;

-- name: anything_due
-- Whether a cron tick or a scheduled run is due, and whether tasks wait on conditions.
SELECT EXISTS (SELECT 1 FROM hatchnb.crons WHERE next_fire_at <= now() AND paused_at IS NULL)
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

-- name: reschedule
-- Move a scheduled run that has not started to another time; returns it (nothing when it
-- started already or does not exist).
UPDATE hatchnb.scheduled_runs SET run_at = %(run_at)s, error = NULL
 WHERE id = %(id)s AND run_id IS NULL
RETURNING *;

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

-- name: trigger_scheduled_now
-- Move a not yet started scheduled run to now (the engine starts it at its next round); a
-- failed one is tried again.
UPDATE hatchnb.scheduled_runs SET run_at = now(), error = NULL
 WHERE id = %(id)s AND run_id IS NULL
RETURNING id;

-- ---- metrics -------------------------------------------------------------------------------

-- name: lock_cron
-- One cron, locked: a backfill and the cron's own ticks do not start the same tick twice.
SELECT * FROM hatchnb.crons WHERE id = %(id)s FOR UPDATE;

-- name: cron_ticks_started
-- Which of these logical ticks of a cron already started a run (by the cron or a backfill).
SELECT DISTINCT additional_metadata ->> 'hatchnb__cron_tick' AS tick
  FROM hatchnb.workflow_runs_all
 WHERE additional_metadata @> jsonb_build_object('hatchnb__cron_id', %(cron_id)s::text)
   AND additional_metadata <> '{}'::jsonb  -- so the partial metadata index serves it
   AND additional_metadata ->> 'hatchnb__cron_tick' = ANY (%(ticks)s::text[]);

-- name: pause_cron
-- Pause one cron (again: no change); returns it, or nothing for an unknown id.
UPDATE hatchnb.crons SET paused_at = coalesce(paused_at, now()) WHERE id = %(id)s RETURNING *;

-- name: unpause_cron
-- Unpause one cron; it resumes at `next_fire_at` (its next tick from now).
UPDATE hatchnb.crons SET paused_at = NULL,
       next_fire_at = CASE WHEN paused_at IS NULL THEN next_fire_at ELSE %(next_fire_at)s END
 WHERE id = %(id)s RETURNING *;
