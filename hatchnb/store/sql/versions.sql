-- Registered workflow versions (pickled code, specs) and their event/cron triggers.

-- name: upsert_workflow_version
-- Store a workflow's code and spec once per content hash; returns the version id.
INSERT INTO hatchnb.workflow_versions (workflow_name, content_hash, python_version, spec, code,
                                       signature)
VALUES (%(workflow_name)s, %(content_hash)s, %(python_version)s, %(spec)s, %(code)s,
        %(signature)s)
ON CONFLICT (workflow_name, content_hash)
DO UPDATE SET signature = coalesce(EXCLUDED.signature, hatchnb.workflow_versions.signature),
              deleted_at = NULL  -- registering a deleted workflow again brings it back
RETURNING id;

-- name: get_workflow_version
-- One workflow version with its pickled code.
SELECT id, workflow_name, content_hash, python_version, spec, code, signature, created_at
  FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: version_spec
-- The spec of one workflow version.
SELECT spec FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: current_workflow_version
-- The version a workflow name currently runs (the last one registered under it).
SELECT version_id FROM hatchnb.workflow_triggers WHERE workflow_name = %(workflow_name)s;

-- name: list_workflows
-- Registered workflows with their newest version and version count.
SELECT v.workflow_name, count(*) AS versions, max(v.id) AS latest_version_id,
       max(v.created_at) AS updated_at, bool_or(p.workflow_name IS NOT NULL) AS is_paused
  FROM hatchnb.workflow_versions v
  LEFT JOIN hatchnb.workflow_pauses p ON p.workflow_name = v.workflow_name
 WHERE v.deleted_at IS NULL
 GROUP BY v.workflow_name ORDER BY v.workflow_name;

-- name: list_workflow_versions
-- The versions of one workflow, newest first (spec, no code).
SELECT id, workflow_name, content_hash, python_version, spec, created_at
  FROM hatchnb.workflow_versions
 WHERE workflow_name = %(workflow_name)s AND deleted_at IS NULL ORDER BY id DESC;

-- name: get_workflow_spec
-- One version's spec (no code).
SELECT id, workflow_name, content_hash, python_version, spec, created_at
  FROM hatchnb.workflow_versions WHERE id = %(id)s;

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

-- name: pause_workflow
-- Pause a workflow (again: new settings, same start).
INSERT INTO hatchnb.workflow_pauses (workflow_name, queue_ttl, cron_behavior, scheduled_behavior)
VALUES (%(workflow_name)s, %(queue_ttl)s, %(cron_behavior)s, %(scheduled_behavior)s)
ON CONFLICT (workflow_name) DO UPDATE
   SET queue_ttl = excluded.queue_ttl, cron_behavior = excluded.cron_behavior,
       scheduled_behavior = excluded.scheduled_behavior;

-- name: unpause_workflow
-- Unpause a workflow and wake the workers for its queued runs.
WITH gone AS (
    DELETE FROM hatchnb.workflow_pauses WHERE workflow_name = %(workflow_name)s RETURNING 1
)
SELECT pg_notify('hatchnb_queued', '') FROM gone;

-- name: paused_behavior
-- What a paused workflow does with a run its crons or schedules start ('DROP' or 'QUEUE');
-- no row when it is not paused.
SELECT cron_behavior, scheduled_behavior FROM hatchnb.workflow_pauses
 WHERE workflow_name = %(workflow_name)s;

-- name: delete_workflow
-- Delete a workflow (see 0021_workflow_deletion.sql): mark its versions deleted and drop what
-- would start new runs of it (its triggers, crons, schedules not started yet, filters) and
-- its pause; returns how many versions were marked.
WITH gone AS (
    UPDATE hatchnb.workflow_versions SET deleted_at = now()
     WHERE workflow_name = %(workflow_name)s AND deleted_at IS NULL
    RETURNING id
), triggers AS (
    DELETE FROM hatchnb.workflow_triggers WHERE workflow_name = %(workflow_name)s
), crons AS (
    DELETE FROM hatchnb.crons WHERE workflow_name = %(workflow_name)s
), schedules AS (
    DELETE FROM hatchnb.scheduled_runs
     WHERE workflow_name = %(workflow_name)s AND run_id IS NULL
), filters AS (
    DELETE FROM hatchnb.filters WHERE workflow_name = %(workflow_name)s
), pauses AS (
    DELETE FROM hatchnb.workflow_pauses WHERE workflow_name = %(workflow_name)s
)
SELECT count(*) AS versions FROM gone;
