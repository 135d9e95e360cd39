-- Registered workflow versions (pickled code, specs) and their event/cron triggers.

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

-- name: version_spec
-- The spec of one workflow version.
SELECT spec FROM hatchnb.workflow_versions WHERE id = %(id)s;

-- name: current_workflow_version
-- The version a workflow name currently runs (the last one registered under it).
SELECT version_id FROM hatchnb.workflow_triggers WHERE workflow_name = %(workflow_name)s;

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
