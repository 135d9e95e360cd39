-- hatchnb schema, version 1: workflow versions, runs, task runs, workers, logs.
CREATE SCHEMA IF NOT EXISTS hatchnb;

CREATE TABLE hatchnb.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Every registered shape of a workflow: its task options (spec) and its pickled code.
CREATE TABLE hatchnb.workflow_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_name text NOT NULL,
    content_hash text NOT NULL,
    python_version text NOT NULL,
    spec jsonb NOT NULL,
    code bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workflow_name, content_hash)
);

CREATE TABLE hatchnb.workers (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slots integer NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}',
    workflows text[],
    python_version text NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    status text NOT NULL DEFAULT 'ACTIVE',
    started_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hatchnb.workflow_runs (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    version_id bigint NOT NULL,
    status text NOT NULL,
    input jsonb NOT NULL,
    additional_metadata jsonb NOT NULL DEFAULT '{}',
    priority smallint NOT NULL,
    parent_task_run_id bigint,
    child_key text,
    -- tasks not yet final, and how many ended FAILED or CANCELLED: a run whose count
    -- reaches zero with no failure and no hooks is settled without a second look
    pending_tasks integer NOT NULL,
    failed_tasks integer NOT NULL DEFAULT 0,
    has_hooks boolean NOT NULL DEFAULT false,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz
);
CREATE UNIQUE INDEX workflow_runs_child_key
    ON hatchnb.workflow_runs (parent_task_run_id, child_key) WHERE child_key IS NOT NULL;
CREATE INDEX workflow_runs_parent
    ON hatchnb.workflow_runs (parent_task_run_id) WHERE parent_task_run_id IS NOT NULL;
CREATE INDEX workflow_runs_created ON hatchnb.workflow_runs (created_at DESC);

-- One row per task per run; retries reuse the row (retry_count), every claim bumps attempt.
CREATE TABLE hatchnb.task_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- no foreign key: runs and their tasks are always inserted by one statement, and the
    -- per-row key check would cost a third of the enqueue time
    run_id uuid NOT NULL,
    workflow_name text NOT NULL,
    version_id bigint NOT NULL,
    task_name text NOT NULL,
    kind text NOT NULL DEFAULT 'task',
    parents text[] NOT NULL DEFAULT '{}',
    has_children boolean NOT NULL DEFAULT false,
    -- tasks with wait_for / skip_if / cancel_if go WAITING (not QUEUED) when their parents
    -- are done, and the engine decides from ready_at on
    has_conditions boolean NOT NULL DEFAULT false,
    ready_at timestamptz,
    status text NOT NULL,
    pending_parents integer NOT NULL DEFAULT 0,
    priority smallint NOT NULL,
    retries integer NOT NULL DEFAULT 0,
    retry_count integer NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    backoff_factor double precision,
    backoff_max_seconds integer,
    schedule_timeout interval NOT NULL,
    execution_timeout interval NOT NULL,
    available_at timestamptz NOT NULL DEFAULT now(),
    queued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    timeout_at timestamptz,
    worker_id uuid,
    output jsonb,
    output_blob bytea,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (run_id, task_name)
);
CREATE INDEX task_runs_queue ON hatchnb.task_runs (priority DESC, id) WHERE status = 'QUEUED';
-- a queue table churns: keep its statistics and dead rows under control
ALTER TABLE hatchnb.task_runs SET (autovacuum_analyze_scale_factor = 0.02,
                                   autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX task_runs_running_timeout ON hatchnb.task_runs (timeout_at) WHERE status = 'RUNNING';
CREATE INDEX task_runs_waiting ON hatchnb.task_runs (ready_at) WHERE status = 'WAITING';
CREATE INDEX task_runs_running_worker ON hatchnb.task_runs (worker_id) WHERE status = 'RUNNING';

CREATE TABLE hatchnb.task_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_run_id bigint NOT NULL REFERENCES hatchnb.task_runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    level text NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_logs_task_run ON hatchnb.task_logs (task_run_id, id);

-- Tell waiters that runs finished: comma-separated ids, at most 200 per notification.
CREATE FUNCTION hatchnb.notify_runs_done(p_run_ids uuid[]) RETURNS void
LANGUAGE sql AS $$
    SELECT pg_notify('hatchnb_run_done', string_agg(id::text, ','))
      FROM unnest(p_run_ids) WITH ORDINALITY AS r (id, n)
     GROUP BY (n - 1) / 200
$$;

-- A workflow run whose tasks are all final gets its final status here; hooks
-- (on_failure / on_success) are queued first when the run calls for one.
CREATE FUNCTION hatchnb.settle_runs(p_run_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    r record;
    any_failed boolean;
    any_cancelled boolean;
    hook text;
BEGIN
    FOR r IN
        SELECT id FROM hatchnb.workflow_runs
        WHERE id = ANY (p_run_ids) AND pending_tasks = 0
          AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
        FOR UPDATE
    LOOP
        SELECT bool_or(status = 'FAILED'), bool_or(status = 'CANCELLED')
          INTO any_failed, any_cancelled
          FROM hatchnb.task_runs WHERE run_id = r.id AND kind = 'task';
        hook := CASE WHEN any_failed THEN 'on_failure'
                     WHEN NOT any_cancelled THEN 'on_success' END;
        UPDATE hatchnb.task_runs
           SET status = 'QUEUED', queued_at = now(), available_at = now()
         WHERE run_id = r.id AND kind = hook AND status = 'PENDING';
        IF FOUND THEN
            UPDATE hatchnb.workflow_runs SET pending_tasks = 1 WHERE id = r.id;
            PERFORM pg_notify('hatchnb_queued', '');
            CONTINUE;
        END IF;
        DELETE FROM hatchnb.task_runs
         WHERE run_id = r.id AND kind <> 'task' AND status = 'PENDING';
        SELECT bool_or(status = 'FAILED'), bool_or(status = 'CANCELLED')
          INTO any_failed, any_cancelled
          FROM hatchnb.task_runs WHERE run_id = r.id;
        UPDATE hatchnb.workflow_runs
           SET status = CASE WHEN any_failed THEN 'FAILED'
                             WHEN any_cancelled THEN 'CANCELLED' ELSE 'SUCCEEDED' END,
               finished_at = now(),
               error = (SELECT string_agg(task_name || ': ' || error, E'\n' ORDER BY id)
                          FROM hatchnb.task_runs
                         WHERE run_id = r.id AND status = 'FAILED')
         WHERE id = r.id;
        PERFORM hatchnb.notify_runs_done(ARRAY[r.id]);
    END LOOP;
END;
$$;

-- Cancel every not-yet-started descendant of the given (run, task) pairs.
CREATE FUNCTION hatchnb.cancel_descendants(p_run_ids uuid[], p_names text[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    WITH RECURSIVE below AS (
        SELECT c.id, c.run_id, c.task_name
          FROM unnest(p_run_ids, p_names) AS f (run_id, name)
          JOIN hatchnb.task_runs c ON c.run_id = f.run_id AND f.name = ANY (c.parents)
        UNION
        SELECT c.id, c.run_id, c.task_name
          FROM below b
          JOIN hatchnb.task_runs c ON c.run_id = b.run_id AND b.task_name = ANY (c.parents)
    ), cancelled AS (
        UPDATE hatchnb.task_runs t
           SET status = 'CANCELLED', finished_at = now(), error = 'an upstream task did not succeed'
          FROM (SELECT DISTINCT id FROM below) d
         WHERE t.id = d.id AND t.status IN ('PENDING', 'WAITING')
        RETURNING t.run_id
    )
    UPDATE hatchnb.workflow_runs w
       SET pending_tasks = w.pending_tasks - n.cnt, failed_tasks = w.failed_tasks + n.cnt
      FROM (SELECT run_id, count(*) AS cnt FROM cancelled GROUP BY run_id) n
     WHERE w.id = n.run_id;
END;
$$;

-- Apply a batch of task results reported by workers. Only results for the attempt
-- that is still RUNNING are applied, so a late or duplicate report changes nothing.
-- p_outcomes: SUCCEEDED, FAILED (retried while retries remain) or FAILED_FINAL.
CREATE FUNCTION hatchnb.finish_task_runs_v1(
    p_ids bigint[], p_attempts integer[], p_outcomes text[],
    p_outputs jsonb[], p_blobs bytea[], p_errors text[]
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    f_runs uuid[];
    f_names text[];
    f_status text[];
    f_children boolean[];
    requeued boolean;
    succeeded uuid[];
    unsettled uuid[];
BEGIN
    WITH x AS (
        SELECT *, (u.outcome = 'FAILED') AS retryable
          FROM unnest(p_ids, p_attempts, p_outcomes, p_outputs, p_blobs, p_errors)
            AS u (id, attempt, outcome, output, blob, error)
    ), done AS (
        UPDATE hatchnb.task_runs t SET
            status = CASE
                WHEN x.outcome IN ('SUCCEEDED', 'SKIPPED', 'CANCELLED') THEN x.outcome
                WHEN x.retryable AND t.retry_count < t.retries THEN 'QUEUED'
                ELSE 'FAILED' END,
            retry_count = t.retry_count + (x.retryable AND t.retry_count < t.retries)::int,
            available_at = now() + hatchnb.retry_delay(
                t.backoff_factor, t.backoff_max_seconds, t.retry_count),
            queued_at = now(),
            output = x.output, output_blob = x.blob, error = x.error,
            worker_id = CASE WHEN x.retryable AND t.retry_count < t.retries
                             THEN NULL ELSE t.worker_id END,
            timeout_at = NULL,
            finished_at = CASE WHEN x.retryable AND t.retry_count < t.retries
                               THEN NULL ELSE now() END
          FROM x
         WHERE t.id = x.id AND t.attempt = x.attempt AND t.status = 'RUNNING'
        RETURNING t.run_id, t.task_name, t.status, t.has_children
    )
    SELECT array_agg(run_id), array_agg(task_name), array_agg(status), array_agg(has_children)
      INTO f_runs, f_names, f_status, f_children
      FROM done;
    IF f_runs IS NULL THEN
        RETURN 0;
    END IF;
    requeued := 'QUEUED' = ANY (f_status);

    -- children whose last parent just succeeded (or was skipped) become queued, or waiting
    -- when they have conditions
    IF true = ANY (f_children) THEN
    UPDATE hatchnb.task_runs c
       SET pending_parents = c.pending_parents - d.n,
           status = CASE WHEN c.pending_parents <> d.n THEN c.status
                         WHEN c.has_conditions THEN 'WAITING' ELSE 'QUEUED' END,
           ready_at = CASE WHEN c.pending_parents = d.n THEN now() END,
           queued_at = CASE WHEN c.pending_parents = d.n THEN now() END,
           available_at = now()
      FROM (SELECT c2.id, count(*) AS n
              FROM unnest(f_runs, f_names, f_status, f_children) AS f (run_id, name, status, kids)
              JOIN hatchnb.task_runs c2 ON c2.run_id = f.run_id AND f.name = ANY (c2.parents)
             WHERE f.status IN ('SUCCEEDED', 'SKIPPED') AND f.kids AND c2.status = 'PENDING'
             GROUP BY c2.id) d
     WHERE c.id = d.id;
    IF FOUND THEN
        requeued := true;
    END IF;
    END IF;

    IF 'FAILED' = ANY (f_status) OR 'CANCELLED' = ANY (f_status) THEN
        PERFORM hatchnb.cancel_descendants(array_agg(f.run_id), array_agg(f.name))
           FROM unnest(f_runs, f_names, f_status, f_children) AS f (run_id, name, status, kids)
          WHERE f.status IN ('FAILED', 'CANCELLED') AND f.kids;
    END IF;

    -- lock runs in id order so concurrent batches touching the same runs cannot deadlock
    PERFORM 1 FROM hatchnb.workflow_runs WHERE id = ANY (f_runs) ORDER BY id FOR UPDATE;
    WITH n AS (
        SELECT f.run_id, count(*) FILTER (WHERE f.status <> 'QUEUED') AS cnt,
               count(*) FILTER (WHERE f.status IN ('FAILED', 'CANCELLED')) AS failed
          FROM unnest(f_runs, f_status) AS f (run_id, status) GROUP BY f.run_id
    ), counted AS (
        UPDATE hatchnb.workflow_runs w
           SET pending_tasks = w.pending_tasks - n.cnt,
               failed_tasks = w.failed_tasks + n.failed,
               status = CASE WHEN w.pending_tasks = n.cnt AND NOT w.has_hooks
                              AND w.failed_tasks + n.failed = 0
                             THEN 'SUCCEEDED' ELSE w.status END,
               finished_at = CASE WHEN w.pending_tasks = n.cnt AND NOT w.has_hooks
                                   AND w.failed_tasks + n.failed = 0
                                  THEN now() END
          FROM n WHERE w.id = n.run_id AND n.cnt > 0
        RETURNING w.id, w.status, w.pending_tasks
    )
    SELECT array_agg(id) FILTER (WHERE status = 'SUCCEEDED'),
           array_agg(id) FILTER (WHERE status <> 'SUCCEEDED' AND pending_tasks = 0)
      INTO succeeded, unsettled
      FROM counted;
    PERFORM hatchnb.notify_runs_done(succeeded);
    PERFORM hatchnb.settle_runs(unsettled);
    IF requeued THEN
        PERFORM pg_notify('hatchnb_queued', '');
    END IF;
    RETURN array_length(f_runs, 1);
END;
$$;

-- Delay before retry n = retry_count + 1 (Hatchet's formula): backoff_factor ** n seconds,
-- capped by backoff_max_seconds (one day when unset); no backoff_factor means no delay.
-- Compared in logarithms so a large n cannot overflow.
CREATE FUNCTION hatchnb.retry_delay(
    p_factor double precision, p_max_seconds integer, p_retry_count integer
) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE
        WHEN p_factor IS NULL THEN interval '0'
        WHEN (p_retry_count + 1) * ln(p_factor) >= ln(coalesce(p_max_seconds, 86400))
            THEN make_interval(secs => coalesce(p_max_seconds, 86400))
        ELSE make_interval(secs => power(p_factor, p_retry_count + 1)) END
$$;

-- Cancel whole runs and, recursively, the child runs their tasks spawned.
-- Returns the task runs that were RUNNING, so their workers can be told.
CREATE FUNCTION hatchnb.cancel_runs(p_run_ids uuid[])
RETURNS TABLE (task_run_id bigint, worker_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    all_runs uuid[];
BEGIN
    WITH RECURSIVE tree AS (
        SELECT id FROM hatchnb.workflow_runs WHERE id = ANY (p_run_ids)
        UNION
        SELECT w.id FROM tree
          JOIN hatchnb.task_runs t ON t.run_id = tree.id
          JOIN hatchnb.workflow_runs w ON w.parent_task_run_id = t.id
    )
    SELECT array_agg(id) INTO all_runs FROM tree;

    RETURN QUERY
    WITH cancelled AS (
        UPDATE hatchnb.task_runs t
           SET status = 'CANCELLED', finished_at = now(), timeout_at = NULL,
               error = coalesce(t.error, 'cancelled')
         WHERE t.run_id = ANY (all_runs)
           AND t.status IN ('PENDING', 'WAITING', 'QUEUED', 'RUNNING')
        RETURNING t.id, t.worker_id
    )
    SELECT c.id, c.worker_id FROM cancelled c WHERE c.worker_id IS NOT NULL;

    DELETE FROM hatchnb.task_runs WHERE run_id = ANY (all_runs) AND kind <> 'task'
       AND status = 'CANCELLED' AND started_at IS NULL;
    UPDATE hatchnb.workflow_runs
       SET status = 'CANCELLED', pending_tasks = 0, finished_at = now()
     WHERE id = ANY (all_runs) AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
    PERFORM hatchnb.notify_runs_done(all_runs);
END;
$$;
