-- Rate limits and concurrency keys.

-- name: put_rate_limit
-- Create or change a static rate limit (the current window keeps its usage).
INSERT INTO hatchnb.rate_limits (key, limit_value, duration)
VALUES (%(key)s, %(limit)s, %(duration)s)
ON CONFLICT (key) DO UPDATE
   SET limit_value = excluded.limit_value, duration = excluded.duration, updated_at = now();

-- name: ensure_rate_limit
-- A dynamic rate limit key gets (or updates to) the limit its task declares.
INSERT INTO hatchnb.rate_limits AS l (key, limit_value, duration)
VALUES (%(key)s, %(limit)s, %(duration)s)
ON CONFLICT (key) DO UPDATE
   SET limit_value = excluded.limit_value, duration = excluded.duration, updated_at = now()
 WHERE l.limit_value <> excluded.limit_value OR l.duration <> excluded.duration
RETURNING key;

-- name: get_rate_limit
-- One rate limit.
SELECT key, limit_value, duration FROM hatchnb.rate_limits WHERE key = %(key)s;

-- name: list_rate_limits
-- Every rate limit with the units used in its current window and the task runs queued on it.
SELECT l.key, l.limit_value, l.duration, l.window_start,
       CASE WHEN hatchnb.rate_limit_expired(l) THEN 0 ELSE l.used END AS used,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.status IN ('QUEUED', 'BLOCKED') AND t.rate_limits IS NOT NULL
           AND t.rate_limits @> jsonb_build_array(jsonb_build_object('key', l.key)))::int
           AS queued
  FROM hatchnb.rate_limits l ORDER BY l.key;

-- name: list_concurrency_keys
-- Every concurrency key with its holders (running) and waiters (queued).
SELECT s.workflow_name, s.task_name, s.expression, s.key, s.strategy, s.max_runs,
       (SELECT count(*) FROM hatchnb.concurrency_holds h WHERE h.slot = s.slot)::int AS running,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.status = 'BLOCKED' AND t.wait_key = s.slot)::int AS queued
  FROM hatchnb.concurrency_slots s
 WHERE %(workflow)s::text IS NULL OR s.workflow_name = %(workflow)s::text
 ORDER BY s.workflow_name, s.task_name NULLS FIRST, s.expression, s.key;
