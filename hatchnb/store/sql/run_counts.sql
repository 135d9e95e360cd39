-- Counting runs (hatchnb.store.runs: RunsRepo.count_runs, status_counts) under the filters of
-- list_runs in runs.sql; archived runs are counted from hourly totals where the filters
-- allow (migrations/0026_history_lookups.sql).

-- name: count_runs
-- How many runs match the list_runs filters, counting no further than `cap` (NULL: all).
SELECT count(*) AS total FROM (
    SELECT 1 FROM hatchnb.workflow_runs_all
     WHERE created_at >= %(since)s AND history_at >= %(since)s
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
     LIMIT %(cap)s
) matching;

-- name: run_status_counts
-- Runs per status under the list_runs filters (statuses excepted), at most `cap` per status
-- (NULL: no cap). With a workflow, metadata or parent filter the matching runs are grouped
-- (a per-status walk would fetch every run of a status the filter excludes).
SELECT status, least(count(*), %(cap)s) AS total
  FROM hatchnb.workflow_runs_all
 WHERE created_at >= %(since)s AND history_at >= %(since)s
   AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
   AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
   AND (%(metadata)s::jsonb IS NULL OR (additional_metadata @> %(metadata)s::jsonb
        AND additional_metadata <> '{}'::jsonb))
   AND (%(parent_task_run_ids)s::bigint[] IS NULL
        OR parent_task_run_id = ANY (%(parent_task_run_ids)s::bigint[]))
   AND (%(event_id)s::uuid IS NULL OR event_id = %(event_id)s::uuid)
   AND (%(worker_id)s::uuid IS NULL OR EXISTS (
        SELECT 1 FROM hatchnb.task_runs_all t
         WHERE t.run_id = workflow_runs_all.id AND t.worker_id = %(worker_id)s::uuid))
 GROUP BY status;

-- name: count_runs_summarized
-- count_runs with only a time range, statuses and workflows: the hot runs are counted, the
-- archived ones mostly read from hourly totals (hatchnb.counted_history_runs), so the cost
-- does not grow with the history kept.
SELECT least(hot.n + hatchnb.counted_history_runs(%(since)s, %(until)s::timestamptz,
                 %(statuses)s::text[], %(workflows)s::text[], %(cap)s::bigint - hot.n),
             %(cap)s::bigint) AS total
  FROM (SELECT count(*) AS n FROM (
            SELECT 1 FROM hatchnb.workflow_runs
             WHERE created_at >= %(since)s
               AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)
               AND (%(statuses)s::text[] IS NULL OR status = ANY (%(statuses)s::text[]))
               AND (%(workflows)s::text[] IS NULL OR workflow_name = ANY (%(workflows)s::text[]))
             LIMIT %(cap)s) matching) hot;

-- name: run_status_counts_summarized
-- run_status_counts with only a time range and workflows: each status's hot runs counted by
-- a plan made for that status, reading at most `cap` rows, and its archived ones from the
-- hourly totals (hatchnb.summarized_status_counts, migration 0029).
SELECT status, total
  FROM hatchnb.summarized_status_counts(%(since)s, %(until)s::timestamptz, %(statuses)s::text[],
                                        %(workflows)s::text[], %(cap)s::bigint)
 WHERE total > 0;
