-- Read-only aggregates for hatchet.metrics and /metrics.

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

-- ---- alerts --------------------------------------------------------------------------------
