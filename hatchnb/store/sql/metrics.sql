-- Read-only aggregates for hatchet.metrics and /metrics.

-- name: queue_depth
-- Queued task runs per workflow (ready now, and delayed by a retry backoff or eviction).
SELECT workflow_name, count(*) FILTER (WHERE available_at <= now()) AS ready,
       count(*) FILTER (WHERE available_at > now()) AS delayed
  FROM hatchnb.task_runs WHERE status = 'QUEUED' GROUP BY workflow_name;

-- name: task_status_counts
-- Task runs per status.
SELECT status, count(*) AS total FROM hatchnb.task_runs GROUP BY status;

-- name: task_status_counts_of_runs
-- Task runs per status, of the runs the list_runs filters select (statuses, metadata and
-- worker excepted): hatchet.metrics.get_task_metrics.
SELECT t.status, count(*) AS total
  FROM hatchnb.workflow_runs_all r JOIN hatchnb.task_runs_all t ON t.run_id = r.id
 WHERE r.created_at >= %(since)s AND r.history_at >= %(since)s
   AND (%(until)s::timestamptz IS NULL OR r.created_at <= %(until)s::timestamptz)
   AND (%(workflows)s::text[] IS NULL OR r.workflow_name = ANY (%(workflows)s::text[]))
   AND (%(parent_task_run_ids)s::bigint[] IS NULL
        OR r.parent_task_run_id = ANY (%(parent_task_run_ids)s::bigint[]))
   AND (%(event_id)s::uuid IS NULL OR r.event_id = %(event_id)s::uuid)
 GROUP BY t.status;

-- name: task_stats
-- Queued and running task runs per task, with the oldest queue or start time.
SELECT task_name, status, count(*) AS total,
       min(CASE WHEN status = 'QUEUED' THEN queued_at ELSE started_at END) AS oldest
  FROM hatchnb.task_runs WHERE status IN ('QUEUED', 'RUNNING')
 GROUP BY task_name, status;

-- name: attempt_throughput
-- Finished attempts per time bucket and outcome since a moment.
SELECT date_bin(%(bucket)s::interval, finished_at, TIMESTAMPTZ '2000-01-01') AS bucket,
       outcome, count(*) AS total
  FROM hatchnb.task_attempts_all WHERE finished_at >= %(since)s
 GROUP BY 1, 2 ORDER BY 1;

-- name: queue_latency_histogram
-- Queue-to-start latency of attempts finished since a moment: count and sum per bucket
-- (bucket i counts latencies below bounds[i], the last one everything above).
SELECT width_bucket(extract(epoch FROM started_at - queued_at)::float8,
                    %(bounds)s::float8[]) AS bucket,
       count(*) AS total, sum(extract(epoch FROM started_at - queued_at)) AS seconds
  FROM hatchnb.task_attempts_all
 WHERE finished_at >= %(since)s AND started_at IS NOT NULL AND queued_at IS NOT NULL
 GROUP BY 1 ORDER BY 1;

-- name: queue_depth_history
-- Task runs waiting to start (queued, ready or delayed) at the end of each bucket since a
-- moment, from the queue and start times of finished attempts and of the task runs now in
-- flight. A sweep: +1 at each queue time and -1 at each start, each counted from the first
-- moment at or after it, summed in order (one pass, not moments x attempts comparisons).
WITH moments AS (
    SELECT generate_series(
               date_bin(%(bucket)s::interval, %(since)s::timestamptz, TIMESTAMPTZ '2000-01-01')
                 + %(bucket)s::interval,
               now(), %(bucket)s::interval) AS at
), waits AS (
    SELECT queued_at, started_at FROM hatchnb.task_attempts_all
     WHERE finished_at >= %(since)s AND queued_at IS NOT NULL
    UNION ALL
    SELECT queued_at, started_at FROM hatchnb.task_runs
     WHERE status IN ('QUEUED', 'ASSIGNED', 'RUNNING') AND queued_at IS NOT NULL
), changes AS (
    SELECT queued_at AS at, 1 AS delta FROM waits
    UNION ALL
    SELECT started_at, -1 FROM waits WHERE started_at IS NOT NULL
), binned AS (
    SELECT at, delta, date_bin(%(bucket)s::interval, at, TIMESTAMPTZ '2000-01-01') AS floored
      FROM changes
), per_moment AS (
    SELECT greatest(CASE WHEN floored = at THEN at ELSE floored + %(bucket)s::interval END,
                    (SELECT min(at) FROM moments)) AS at,
           sum(delta) AS delta
      FROM binned GROUP BY 1
)
SELECT m.at, (sum(coalesce(p.delta, 0)) OVER (ORDER BY m.at))::bigint AS depth
  FROM moments m LEFT JOIN per_moment p ON p.at = m.at
 ORDER BY m.at;

-- ---- alerts --------------------------------------------------------------------------------
