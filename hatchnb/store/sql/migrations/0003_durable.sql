-- hatchnb schema, version 3: the append-only event log of durable task runs.
CREATE TABLE hatchnb.durable_events (
    task_run_id bigint NOT NULL,
    seq integer NOT NULL,
    kind text NOT NULL,
    -- what the code asked for at this position; a replay asking for something else is
    -- a non-determinism error
    request text NOT NULL,
    wake_at timestamptz,
    event_key text,
    expression text,
    since timestamptz,
    result jsonb,
    done boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_run_id, seq)
);
CREATE INDEX durable_events_waiting ON hatchnb.durable_events (task_run_id)
    WHERE NOT done AND event_key IS NOT NULL;

-- Durable task runs evicted during a long wait go back to the queue until their wake-up
-- time (outcome EVICTED; output holds {"resume_at": ...}); this is not a retry.
CREATE OR REPLACE FUNCTION hatchnb.finish_task_runs(
    p_ids bigint[], p_attempts integer[], p_outcomes text[],
    p_outputs jsonb[], p_blobs bytea[], p_errors text[]
) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    evicted integer;
BEGIN
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
    RETURN evicted + hatchnb.finish_task_runs_v1(p_ids, p_attempts, p_outcomes, p_outputs,
                                                 p_blobs, p_errors);
END;
$$;
