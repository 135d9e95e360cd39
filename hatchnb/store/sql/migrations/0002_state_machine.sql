-- The run state machine: claiming queued task runs, applying results (success, retry,
-- failure, durable eviction), cancelling, and settling workflow runs whose tasks are all
-- final. Flow control hooks in through the concurrency triggers (0003_concurrency.sql) and
-- hatchnb.may_claim (0004_routing.sql); attempt history through a trigger (0007).
--
-- Entry points called by the application: claim_task_runs (workers), finish_task_runs
-- (workers, engine), cancel_runs (clients, sweep_concurrency). The rest are helpers.

-- Tell waiters that runs finished: comma-separated ids, at most 200 per notification
-- (PL/pgSQL: its plan is cached, a SQL function called from PL/pgSQL is planned at each call).
CREATE FUNCTION hatchnb.notify_runs_done(p_run_ids uuid[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF p_run_ids IS NULL THEN
        RETURN;
    END IF;
    PERFORM pg_notify('hatchnb_run_done', string_agg(id::text, ','))
       FROM unnest(p_run_ids) WITH ORDINALITY AS r (id, n)
      GROUP BY (n - 1) / 200;
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

-- ---- claiming ----------------------------------------------------------------------------

-- Mark the chosen task runs RUNNING on a worker and return what the worker needs to run them.
-- Generic plans (here and in finish_task_runs): every statement is keyed by ids, and planning
-- them again at each call cost more than running them (a claim of 1: 1.5-1.9 ms -> 0.7 ms).
CREATE FUNCTION hatchnb.start_task_runs(p_worker uuid, p_chosen bigint[])
RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb
)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    WITH started AS (
        UPDATE hatchnb.task_runs t
           SET status = 'RUNNING', worker_id = p_worker, attempt = t.attempt + 1,
               slot_released = false, started_at = now(),
               timeout_at = now() + t.execution_timeout
         WHERE t.id = ANY (p_chosen)
        RETURNING t.run_id
    )
    UPDATE hatchnb.workflow_runs r
       SET status = CASE WHEN r.status = 'QUEUED' THEN 'RUNNING' ELSE r.status END,
           started_at = coalesce(r.started_at, now()),
           sticky_worker_id = CASE WHEN r.sticky IS NOT NULL
                                   THEN coalesce(r.sticky_worker_id, p_worker) END
     WHERE r.id IN (SELECT s.run_id FROM started s)
       AND (r.status = 'QUEUED' OR (r.sticky IS NOT NULL AND r.sticky_worker_id IS NULL));

    RETURN QUERY
    SELECT t.id, t.run_id, t.workflow_name, t.task_name, t.kind, t.version_id, t.attempt,
           t.retry_count, t.priority, t.slot_cost, r.input, r.additional_metadata,
           r.parent_task_run_id, r.filter_payload, r.event_id,
           CASE WHEN cardinality(t.parents) > 0 OR t.kind <> 'task' THEN (
               SELECT jsonb_object_agg(p.task_name, jsonb_build_object(
                          'status', p.status, 'output', p.output, 'error', p.error,
                          'has_blob', p.output_blob IS NOT NULL))
                 FROM hatchnb.task_runs p WHERE p.run_id = t.run_id AND p.id <> t.id)
           END
      FROM hatchnb.task_runs t JOIN hatchnb.workflow_runs r ON r.id = t.run_id
     WHERE t.id = ANY (p_chosen)
     ORDER BY t.priority DESC, t.id;
END;
$$;

-- Claim up to `p_slots` slots' worth of queued task runs for a worker: highest priority
-- first, FIFO within a priority, only versions its Python can load, only its workflows.
-- The first `p_slots` candidates are locked at once; when none is routed they are the
-- claim. Otherwise routed task runs (labels, sticky runs, rate limits, slot costs) must
-- pass hatchnb.may_claim, looking up to 16 candidates further.
CREATE FUNCTION hatchnb.claim_task_runs(
    p_worker uuid, p_slots integer, p_workflows text[], p_python text,
    p_patience interval DEFAULT interval '5 seconds'
) RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb
)
LANGUAGE plpgsql AS $$
DECLARE
    c hatchnb.task_runs;
    labels jsonb;
    budget integer := p_slots;
    chosen bigint[];
    any_routed boolean;
BEGIN
    SELECT array_agg(q.id), bool_or(q.routed) INTO chosen, any_routed
      FROM (SELECT t.id, t.routed FROM hatchnb.task_runs t
             WHERE t.status = 'QUEUED' AND t.available_at <= now()
               AND (p_workflows IS NULL OR t.workflow_name = ANY (p_workflows))
               AND EXISTS (SELECT 1 FROM hatchnb.workflow_versions v
                            WHERE v.id = t.version_id AND v.python_version = p_python)
             ORDER BY t.priority DESC, t.id
             LIMIT p_slots
               FOR UPDATE OF t SKIP LOCKED) q;
    IF chosen IS NULL THEN
        RETURN;
    END IF;
    IF any_routed THEN
        chosen := '{}';
        -- the rows locked above come back first: a transaction does not skip its own locks
        FOR c IN
            SELECT t.* FROM hatchnb.task_runs t
             WHERE t.status = 'QUEUED' AND t.available_at <= now()
               AND (p_workflows IS NULL OR t.workflow_name = ANY (p_workflows))
               AND EXISTS (SELECT 1 FROM hatchnb.workflow_versions v
                            WHERE v.id = t.version_id AND v.python_version = p_python)
             ORDER BY t.priority DESC, t.id
             LIMIT p_slots + 16
               FOR UPDATE OF t SKIP LOCKED
        LOOP
            EXIT WHEN budget <= 0;
            CONTINUE WHEN c.slot_cost > budget;
            IF c.routed THEN
                IF labels IS NULL THEN
                    SELECT w.labels INTO labels FROM hatchnb.workers w WHERE w.id = p_worker;
                    labels := coalesce(labels, '{}');
                END IF;
                CONTINUE WHEN NOT hatchnb.may_claim(c, p_worker, labels, p_patience);
            END IF;
            chosen := chosen || c.id;
            budget := budget - c.slot_cost;
        END LOOP;
        IF cardinality(chosen) = 0 THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT * FROM hatchnb.start_task_runs(p_worker, chosen);
END;
$$;

-- ---- finishing ---------------------------------------------------------------------------

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

-- Apply a batch of task results reported by workers (and by the engine: timeouts, condition
-- outcomes). Only results for the attempt that is still RUNNING are applied, so a late or
-- duplicate report changes nothing. Returns how many results were applied.
-- p_outcomes: SUCCEEDED, SKIPPED, CANCELLED, FAILED (retried while retries remain),
-- FAILED_FINAL, or EVICTED: a durable task run evicted during a long wait goes back to the
-- queue until its wake-up time (p_outputs holds {"resume_at": ...}); this is not a retry.
CREATE FUNCTION hatchnb.finish_task_runs(
    p_ids bigint[], p_attempts integer[], p_outcomes text[],
    p_outputs jsonb[], p_blobs bytea[], p_errors text[]
) RETURNS integer
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
DECLARE
    evicted integer;
    f_runs uuid[];
    f_names text[];
    f_status text[];
    f_children boolean[];
    requeued boolean;
    succeeded uuid[];
    unsettled uuid[];
BEGIN
    evicted := 0;
    IF 'EVICTED' = ANY (p_outcomes) THEN
        WITH x AS (
            SELECT * FROM unnest(p_ids, p_attempts, p_outcomes, p_outputs)
                AS u (id, attempt, outcome, output)
             WHERE u.outcome = 'EVICTED'
        )
        UPDATE hatchnb.task_runs t
           SET status = 'QUEUED', worker_id = NULL, timeout_at = NULL, queued_at = now(),
               available_at = (x.output ->> 'resume_at')::timestamptz
          FROM x
         WHERE t.id = x.id AND t.attempt = x.attempt AND t.status = 'RUNNING';
        GET DIAGNOSTICS evicted = ROW_COUNT;
        IF evicted = array_length(p_ids, 1) THEN
            RETURN evicted;
        END IF;
    END IF;

    -- the other results (evicted task runs are no longer RUNNING, so they are left alone)
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
        RETURN evicted;
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
    IF succeeded IS NOT NULL THEN
        PERFORM hatchnb.notify_runs_done(succeeded);
    END IF;
    IF unsettled IS NOT NULL THEN
        PERFORM hatchnb.settle_runs(unsettled);
    END IF;
    IF requeued THEN
        PERFORM pg_notify('hatchnb_queued', '');
    END IF;
    RETURN evicted + array_length(f_runs, 1);
END;
$$;

-- ---- cancelling --------------------------------------------------------------------------

-- Cancel whole runs and, recursively, the child runs their tasks spawned (BLOCKED task runs
-- included). Returns the task runs that were RUNNING, so their workers can be told.
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
           AND t.status IN ('PENDING', 'WAITING', 'QUEUED', 'BLOCKED', 'RUNNING')
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
