"""Fill a hatchnb database with finished runs, set-based (INSERT ... SELECT generate_series).

The rows are the ones the engine writes for these workflows (tests/integration/
test_retention.py compares them with runs executed by a real worker): runs of ``etl``
(extract -> load), ``report`` and ``notify`` registered through the library, so version ids
and task options come from real specs; 85 % SUCCEEDED, 10 % FAILED (the first task fails,
the rest is cancelled as upstream), 5 % CANCELLED before starting; created over the last
``days`` days with UUIDv7 ids in time order; metadata with a team, an environment and (one
run in ten) a customer; one run in ten started by an event (with its event row); a log line
per executed extract or failing task, an attempt row per executed task, stream chunks for
one run in a hundred.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from hatchnb import Context, EmptyModel, Hatchet

WORKFLOWS = ("etl", "report", "notify")
TEAMS = ("ml", "data", "web", "ops", "finance")
CHUNK = 50_000

# One statement per chunk of runs: runs, their task runs, then logs, attempts, events and
# stream chunks from what was inserted. `v` holds each workflow's tasks from its real spec.
GENERATE_SQL = """
WITH v AS MATERIALIZED (
    SELECT v.id AS version_id, v.workflow_name, s.n AS pos, s.t ->> 'name' AS task_name,
           ARRAY(SELECT jsonb_array_elements_text(s.t -> 'parents')) AS parents,
           (s.t ->> 'has_children')::boolean AS has_children,
           (s.t ->> 'retries')::int AS retries,
           (s.t ->> 'backoff_factor')::double precision AS backoff_factor,
           (s.t ->> 'backoff_max_seconds')::int AS backoff_max_seconds,
           (s.t ->> 'schedule_timeout')::interval AS schedule_timeout,
           (s.t ->> 'execution_timeout')::interval AS execution_timeout,
           coalesce((s.t ->> 'slot_cost')::int, 1) AS slot_cost,
           jsonb_array_length(v.spec -> 'tasks') AS task_count
      FROM hatchnb.workflow_versions v
     CROSS JOIN LATERAL jsonb_array_elements(v.spec -> 'tasks') WITH ORDINALITY AS s (t, n)
     WHERE v.id = ANY (%(versions)s::bigint[])
), base AS MATERIALIZED (
    SELECT i,
           (%(workflows)s::text[])[1 + (CASE WHEN i %% 10 < 6 THEN 0 WHEN i %% 10 < 9 THEN 1
                                             ELSE 2 END)] AS workflow_name,
           CASE WHEN i %% 20 = 7 THEN 'CANCELLED' WHEN i %% 10 = 3 THEN 'FAILED'
                ELSE 'SUCCEEDED' END AS status,
           now() - make_interval(secs => %(span)s * (%(total)s - i)::float8 / %(total)s)
               - make_interval(secs => (hashtext('c' || i) & 1023) / 100.0) AS created_at,
           md5('r' || i || %(salt)s) AS h,
           CASE WHEN i %% 10 = 5 THEN 'event:order.created'
                WHEN i %% 50 = 1 THEN 'cron:nightly' END AS triggered_by,
           (%(workers)s::uuid[])[1 + i %% cardinality(%(workers)s::uuid[])] AS worker_id,
           CASE WHEN i %% 25 = 0 THEN 3 WHEN i %% 5 = 0 THEN 2 ELSE 1 END::smallint AS priority,
           jsonb_build_object('team', (%(teams)s::text[])[1 + i %% 5],
                              'env', CASE WHEN i %% 4 = 0 THEN 'dev' ELSE 'prod' END)
           || CASE WHEN i %% 10 = 0 THEN jsonb_build_object('customer', 'c' || (i / 10) %% 1000)
                   ELSE '{}' END AS meta
      FROM generate_series(%(lo)s::int, %(hi)s::int) AS i
), r AS MATERIALIZED (
    SELECT b.*, (lpad(to_hex((extract(epoch FROM b.created_at) * 1000)::bigint), 12, '0')
                 || '7' || substr(b.h, 1, 3) || '8' || substr(b.h, 4, 15))::uuid AS id,
           CASE WHEN b.triggered_by LIKE 'event:%%' THEN md5('e' || b.h)::uuid END AS event_id,
           w.version_id, w.task_count
      FROM base b JOIN (SELECT DISTINCT workflow_name, version_id, task_count FROM v) w
        ON w.workflow_name = b.workflow_name
), tr AS MATERIALIZED (
    -- one row per task run: when it ran (if it did) and how it ended
    SELECT r.id AS run_id, r.i, r.status AS run_status, r.created_at AS run_created,
           r.worker_id, r.priority, v.*,
           CASE WHEN r.status = 'CANCELLED' THEN 'CANCELLED'
                WHEN r.status = 'SUCCEEDED' THEN 'SUCCEEDED'
                WHEN v.pos = 1 THEN 'FAILED' ELSE 'CANCELLED' END AS status,
           r.created_at + make_interval(secs => 0.004 + (v.pos - 1) * (d.secs + 0.002))
               AS started_at,
           r.created_at + make_interval(secs => 0.004 + (v.pos - 1) * (d.secs + 0.002)
                                               + d.secs) AS done_at
      FROM r JOIN v ON v.version_id = r.version_id
     CROSS JOIN LATERAL (SELECT 0.01 + (hashtext(r.h) & 255) / 1000.0 AS secs) d
), times AS MATERIALIZED (
    SELECT tr.*, first_value(tr.done_at) OVER w AS first_done,
           last_value(tr.done_at) OVER w AS last_done
      FROM tr
    WINDOW w AS (PARTITION BY tr.run_id ORDER BY tr.pos
                 ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
), new_runs AS (
    INSERT INTO hatchnb.workflow_runs (id, workflow_name, version_id, status, input,
                                       additional_metadata, priority, pending_tasks,
                                       failed_tasks, has_hooks, error, created_at, started_at,
                                       finished_at, triggered_by, event_id)
    SELECT r.id, r.workflow_name, r.version_id, r.status,
           jsonb_build_object('i', r.i, 'batch', r.i / 1000), r.meta, r.priority, 0,
           CASE WHEN r.status = 'FAILED' THEN r.task_count ELSE 0 END, false,
           CASE WHEN r.status = 'FAILED' THEN
               f.task_name || ': RuntimeError: upstream API returned 503' END,
           r.created_at,
           CASE WHEN r.status <> 'CANCELLED' THEN r.created_at + interval '4 ms' END,
           CASE WHEN r.status = 'CANCELLED' THEN r.created_at + interval '50 ms'
                WHEN r.status = 'FAILED' THEN f.first_done ELSE f.last_done END,
           r.triggered_by, r.event_id
      FROM r JOIN times f ON f.run_id = r.id AND f.pos = 1
    RETURNING id
), new_tasks AS (
    INSERT INTO hatchnb.task_runs (run_id, workflow_name, version_id, task_name, kind,
                                   parents, has_children, has_conditions, ready_at, status,
                                   pending_parents, priority, retries, retry_count, attempt,
                                   backoff_factor, backoff_max_seconds, schedule_timeout,
                                   execution_timeout, available_at, queued_at, started_at,
                                   finished_at, worker_id, output, error, created_at,
                                   slot_cost)
    SELECT tr.run_id, tr.workflow_name, tr.version_id, tr.task_name, 'task', tr.parents,
           tr.has_children, false,
           CASE WHEN tr.pos = 1 OR tr.status <> 'SUCCEEDED' THEN tr.run_created
                ELSE tr.started_at - interval '2 ms' END,
           tr.status,
           CASE WHEN tr.status = 'CANCELLED' THEN cardinality(tr.parents) ELSE 0 END,
           tr.priority, tr.retries, 0,
           CASE WHEN tr.run_status = 'CANCELLED' OR tr.status = 'CANCELLED' THEN 0 ELSE 1 END,
           tr.backoff_factor, tr.backoff_max_seconds, tr.schedule_timeout,
           tr.execution_timeout,
           CASE WHEN tr.status IN ('SUCCEEDED', 'FAILED') THEN tr.done_at
                ELSE tr.run_created END,
           CASE WHEN tr.status IN ('SUCCEEDED', 'FAILED') THEN tr.done_at
                ELSE tr.run_created END,
           CASE WHEN tr.status IN ('SUCCEEDED', 'FAILED') THEN tr.started_at END,
           CASE WHEN tr.status IN ('SUCCEEDED', 'FAILED') THEN tr.done_at
                WHEN tr.run_status = 'CANCELLED' THEN tr.run_created + interval '50 ms'
                ELSE tr.first_done END,
           CASE WHEN tr.status IN ('SUCCEEDED', 'FAILED') THEN tr.worker_id END,
           CASE WHEN tr.status = 'SUCCEEDED' THEN jsonb_build_object('rows', tr.i %% 100) END,
           CASE tr.status WHEN 'FAILED' THEN 'RuntimeError: upstream API returned 503'
                WHEN 'CANCELLED' THEN CASE WHEN tr.run_status = 'CANCELLED' THEN 'cancelled'
                                           ELSE 'an upstream task did not succeed' END END,
           tr.run_created, tr.slot_cost
      FROM times tr
     ORDER BY tr.i, tr.pos  -- task run ids in trigger order, as the engine assigns them
    RETURNING id, run_id, workflow_name, task_name, status, attempt, worker_id, error,
              queued_at, started_at, finished_at, ready_at
), logs AS (
    INSERT INTO hatchnb.task_logs (task_run_id, attempt, level, message, created_at)
    SELECT id, attempt, CASE WHEN status = 'FAILED' THEN 'ERROR' ELSE 'INFO' END,
           CASE WHEN status = 'FAILED' THEN 'calling the upstream API failed'
                ELSE 'extracted ' || (hashtext(run_id::text) & 1023) || ' rows' END,
           started_at + interval '1 ms'
      FROM new_tasks WHERE attempt > 0 AND (task_name = 'extract' OR status = 'FAILED')
    RETURNING 1
), attempts AS (
    INSERT INTO hatchnb.task_attempts (task_run_id, run_id, workflow_name, task_name, attempt,
                                       worker_id, outcome, error, queued_at, started_at,
                                       finished_at)
    SELECT id, run_id, workflow_name, task_name, attempt, worker_id, status, error,
           ready_at, started_at, finished_at
      FROM new_tasks WHERE attempt > 0
    RETURNING 1
), events AS (
    INSERT INTO hatchnb.events (id, key, payload, additional_metadata, created_at)
    SELECT r.event_id, 'order.created', jsonb_build_object('order', r.i), '{}',
           r.created_at - interval '2 ms'
      FROM r WHERE r.event_id IS NOT NULL
    RETURNING 1
), chunks AS (
    INSERT INTO hatchnb.stream_chunks (run_id, task_run_id, data, created_at)
    SELECT t.run_id, t.id, 'progress ' || k || '/3', t.started_at + k * interval '1 ms'
      FROM new_tasks t CROSS JOIN generate_series(1, 3) AS k
     WHERE t.attempt > 0 AND hashtext(t.run_id::text) %% 100 = 0
    RETURNING 1
)
SELECT (SELECT count(*) FROM new_runs) AS workflow_runs,
       (SELECT count(*) FROM new_tasks) AS task_runs,
       (SELECT count(*) FROM logs) AS task_logs,
       (SELECT count(*) FROM attempts) AS task_attempts,
       (SELECT count(*) FROM events) AS events,
       (SELECT count(*) FROM chunks) AS stream_chunks
"""

WORKERS_SQL = """
INSERT INTO hatchnb.workers (id, name, slots, labels, workflows, python_version, hostname,
                             pid, status, started_at, last_heartbeat_at)
SELECT md5('w' || k || %(salt)s)::uuid, 'worker-' || k, 10, '{}', NULL, %(python)s, 'bench',
       1000 + k, 'STOPPED', now() - interval '1 day', now() - interval '1 hour'
  FROM generate_series(1, 4) AS k
RETURNING id
"""


def declare(hatchet: Hatchet) -> list[Any]:
    """The generated workflows, declared as a user would (also run for real in the test)."""
    etl = hatchet.workflow(name="etl")

    @etl.task()
    def extract(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("extracting")
        if (input.model_extra or {}).get("fail"):
            raise RuntimeError("upstream API returned 503")
        return {"rows": 3}

    @etl.task(parents=[extract])
    def load(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"rows": ctx.task_output(extract)["rows"]}

    report = hatchet.workflow(name="report")

    @report.task()
    def render(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"rows": 1}

    notify = hatchet.workflow(name="notify")

    @notify.task()
    def send(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"rows": 1}

    return [etl, report, notify]


def generate(
    dsn: str, runs: int, *, days: float = 60.0, chunk: int = CHUNK, salt: str = ""
) -> dict[str, Any]:
    """Insert ``runs`` finished runs created over the last ``days`` days; returns row counts
    and the seconds taken. ``salt`` makes ids differ between calls on one database."""
    hatchet = Hatchet(dsn=dsn)
    try:
        workflows = declare(hatchet)
        versions = [hatchet.register(wf) for wf in workflows]
    finally:
        hatchet.close()
    started = time.perf_counter()
    totals: dict[str, Any] = {}
    with psycopg.connect(dsn, autocommit=True, options="-c jit=off") as conn:
        conn.execute("SET synchronous_commit = off")
        row = conn.execute(
            "SELECT python_version FROM hatchnb.workflow_versions WHERE id = %s", (versions[0],)
        ).fetchone()
        python = row[0] if row else None
        workers = [r[0] for r in conn.execute(WORKERS_SQL, {"salt": salt, "python": python})]
        for lo in range(1, runs + 1, chunk):
            params = {
                "versions": versions,
                "workflows": list(WORKFLOWS),
                "teams": list(TEAMS),
                "workers": workers,
                "span": days * 86_400,
                "total": runs,
                "lo": lo,
                "hi": min(lo + chunk - 1, runs),
                "salt": salt,
            }
            cur = conn.execute(GENERATE_SQL, params)
            row = cur.fetchone()
            assert row is not None and cur.description is not None
            for column, value in zip((c.name for c in cur.description), row, strict=True):
                totals[column] = totals.get(column, 0) + int(value)
    totals["seconds"] = round(time.perf_counter() - started, 1)
    return totals
