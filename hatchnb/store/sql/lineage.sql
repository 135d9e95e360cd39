-- Run lineage (runs.fork) and what runs.diff compares.

-- name: fork_source_run
-- The run a fork starts from, locked against a replay resetting its outputs meanwhile.
SELECT id, workflow_name, input, additional_metadata, priority
  FROM hatchnb.workflow_runs WHERE id = %(id)s
   FOR SHARE;

-- name: fork_source_tasks
-- The source run's tasks (hooks aside): their status and parents there.
SELECT task_name, status, parents FROM hatchnb.task_runs
 WHERE run_id = %(run_id)s AND kind = 'task';

-- name: reuse_source_outputs
-- Inside the transaction that inserted the fork `run_id`: its tasks named in `reused` take
-- the source's outputs (as SUCCEEDED or SKIPPED, never executed), the tasks left wait only
-- for the parents that run again (queued, or waiting when they have conditions, when none
-- does), and the run is linked to its source and counts only the tasks that will run.
WITH src AS (
    -- a task the source itself reused points at the task run that was executed
    SELECT coalesce(s.reused_from, s.id) AS id, s.task_name, s.status, s.output, s.output_blob
      FROM hatchnb.task_runs s
     WHERE s.run_id = %(source_id)s AND s.kind = 'task'
       AND s.task_name = ANY (%(reused)s::text[])
), copied AS (
    UPDATE hatchnb.task_runs t
       SET status = src.status, output = src.output, output_blob = src.output_blob,
           reused_from = src.id, pending_parents = 0, queued_at = now(), started_at = now(),
           finished_at = now()
      FROM src
     WHERE t.run_id = %(run_id)s AND t.task_name = src.task_name
    RETURNING t.id
), waiting AS (
    UPDATE hatchnb.task_runs t
       SET pending_parents = w.left_parents,
           status = CASE WHEN w.left_parents > 0 THEN t.status
                         WHEN t.has_conditions THEN 'WAITING' ELSE 'QUEUED' END,
           ready_at = CASE WHEN w.left_parents = 0 THEN now() END,
           queued_at = CASE WHEN w.left_parents = 0 THEN now() END,
           available_at = now()
      FROM (SELECT c.id, (SELECT count(*) FROM unnest(c.parents) p
                           WHERE p <> ALL (%(reused)s::text[])) AS left_parents
              FROM hatchnb.task_runs c
             WHERE c.run_id = %(run_id)s AND c.kind = 'task' AND c.status = 'PENDING'
               AND c.task_name <> ALL (%(reused)s::text[])) w
     WHERE t.id = w.id
    RETURNING t.id
)
UPDATE hatchnb.workflow_runs r
   SET forked_from = %(source_id)s, forked_at_task = %(from_task)s,
       pending_tasks = r.pending_tasks - (SELECT count(*) FROM copied)
 WHERE r.id = %(run_id)s
RETURNING (SELECT count(*) FROM copied) AS copied, (SELECT count(*) FROM waiting) AS waiting;

-- name: forks_of_run
-- The runs forked from a run, oldest first.
SELECT id, forked_at_task, status, created_at FROM hatchnb.workflow_runs_all
 WHERE forked_from = %(run_id)s
 ORDER BY created_at, id;

-- name: diff_run_tasks
-- What runs.diff compares of one run's tasks: status, output (a pickled one as its blob),
-- and the task's spec and source in the version whose code produced its output (for a
-- reused output, the version of the task run it was copied from, when it still exists).
SELECT t.task_name, t.status, t.output, t.output_blob, t.error, t.reused_from,
       v.id AS version_id, v.content_hash,
       (SELECT s FROM jsonb_array_elements(v.spec -> 'tasks') s
         WHERE s ->> 'name' = t.task_name) AS task_spec,
       v.spec -> 'sources' ->> t.task_name AS source
  FROM hatchnb.task_runs_all t
  LEFT JOIN hatchnb.task_runs_all o ON o.id = t.reused_from
  JOIN hatchnb.workflow_versions v ON v.id = coalesce(o.version_id, t.version_id)
 WHERE t.run_id = %(run_id)s AND t.kind = 'task'
 ORDER BY t.id;
