-- Attempt history written by the statement that finishes task runs (issue 15). The row
-- trigger task_runs_attempt_done (0007) ran a PL/pgSQL function and a one-row INSERT for
-- every finished task run: about half of the finishing UPDATE's cost when measured alone
-- (~25 of ~50 us per row; in the C=10 profile the UPDATE went from ~71 to ~63 us per task,
-- benchmarks/README.md). finish_task_runs now inserts its task runs' attempt rows itself,
-- in one INSERT over the UPDATE's RETURNING, and tells the trigger to leave those rows
-- alone through a transaction-local setting, set only around that one UPDATE. Every other
-- way a RUNNING task run ends an attempt (cancel, worker loss, hand-back, eviction, batch,
-- engine timeouts through other statements) still goes through the trigger, unchanged.
--
-- The attempt row keeps what it held: the worker and queue time of the attempt (the row's
-- values before the UPDATE, which clears worker_id and resets queued_at on a retry, read
-- by a join with the row's old version), its outcome (the new status) and error.

DROP TRIGGER task_runs_attempt_done ON hatchnb.task_runs;
-- the setting is checked last: claims and other updates stop at the status test
CREATE TRIGGER task_runs_attempt_done
    AFTER UPDATE ON hatchnb.task_runs
    FOR EACH ROW
    WHEN (OLD.status = 'RUNNING' AND (NEW.status <> 'RUNNING' OR NEW.attempt <> OLD.attempt)
          AND coalesce(current_setting('hatchnb.attempts_recorded', true), '') <> 'on')
    EXECUTE FUNCTION hatchnb.record_task_attempt();

DROP FUNCTION hatchnb.finish_task_runs(bigint[], integer[], text[], jsonb[], bytea[], text[]);
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

    -- the other results (evicted task runs are no longer RUNNING, so they are left alone),
    -- with their attempt rows written here rather than by the row trigger (see above)
    PERFORM set_config('hatchnb.attempts_recorded', 'on', true);
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
          FROM x JOIN hatchnb.task_runs o ON o.id = x.id
         WHERE t.id = x.id AND t.attempt = x.attempt AND t.status = 'RUNNING'
        RETURNING t.id, t.run_id, t.workflow_name, t.task_name, t.attempt, o.worker_id,
                  t.status, t.error, o.queued_at, t.started_at, t.has_children
    ), recorded AS (
        INSERT INTO hatchnb.task_attempts (task_run_id, run_id, workflow_name, task_name,
                                           attempt, worker_id, outcome, error, queued_at,
                                           started_at)
        SELECT d.id, d.run_id, d.workflow_name, d.task_name, d.attempt, d.worker_id,
               d.status, d.error, d.queued_at, d.started_at
          FROM done d
    )
    SELECT array_agg(run_id), array_agg(task_name), array_agg(status), array_agg(has_children)
      INTO f_runs, f_names, f_status, f_children
      FROM done;
    PERFORM set_config('hatchnb.attempts_recorded', '', true);
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
