-- A worker's separate pool of durable slots (hatchet_sdk's worker(durable_slots=...)): a
-- worker started with one claims durable task runs into it and the other task runs into its
-- slots, each pool up to its own free count. Workers without one keep claim_task_runs.

-- Whether the task of that version is a durable task (its spec says so).
CREATE FUNCTION hatchnb.is_durable_task(p_version bigint, p_task text) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT EXISTS (
        SELECT 1 FROM hatchnb.workflow_versions v,
                      jsonb_array_elements(coalesce(v.spec -> 'tasks', '[]')) AS task
         WHERE v.id = p_version AND task ->> 'name' = p_task
           AND coalesce((task ->> 'durable')::boolean, false))
$$;

-- claim_task_runs with two budgets: `p_slots` slots' worth of task runs that are not durable
-- and `p_durable_slots` of durable ones, each in priority order (one pool being full does not
-- hold the other back). Routed task runs are checked with may_claim as in claim_task_runs.
CREATE FUNCTION hatchnb.claim_pooled_task_runs(
    p_worker uuid, p_slots integer, p_durable_slots integer, p_workflows text[],
    p_python text, p_patience interval DEFAULT interval '5 seconds'
) RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb, durable boolean
)
LANGUAGE plpgsql AS $$
DECLARE
    c hatchnb.task_runs;
    is_durable boolean;
    labels jsonb;
    budget integer := p_slots;
    durable_budget integer := p_durable_slots;
    candidates bigint[];
    durable_candidates bigint[];
    chosen bigint[] := '{}';
BEGIN
    SELECT coalesce(array_agg(q.id), '{}') INTO candidates
      FROM (SELECT t.id FROM hatchnb.task_runs t
             WHERE p_slots > 0 AND t.status = 'QUEUED' AND t.available_at <= now()
               AND (p_workflows IS NULL OR t.workflow_name = ANY (p_workflows))
               AND EXISTS (SELECT 1 FROM hatchnb.workflow_versions v
                            WHERE v.id = t.version_id AND v.python_version = p_python)
               AND NOT hatchnb.is_durable_task(t.version_id, t.task_name)
             ORDER BY t.priority DESC, t.id
             LIMIT p_slots + 16
               FOR UPDATE OF t SKIP LOCKED) q;
    SELECT coalesce(array_agg(q.id), '{}') INTO durable_candidates
      FROM (SELECT t.id FROM hatchnb.task_runs t
             WHERE p_durable_slots > 0 AND t.status = 'QUEUED' AND t.available_at <= now()
               AND (p_workflows IS NULL OR t.workflow_name = ANY (p_workflows))
               AND EXISTS (SELECT 1 FROM hatchnb.workflow_versions v
                            WHERE v.id = t.version_id AND v.python_version = p_python)
               AND hatchnb.is_durable_task(t.version_id, t.task_name)
             ORDER BY t.priority DESC, t.id
             LIMIT p_durable_slots + 16
               FOR UPDATE OF t SKIP LOCKED) q;
    FOR c IN
        SELECT t.* FROM hatchnb.task_runs t
         WHERE t.id = ANY (candidates || durable_candidates)
         ORDER BY t.priority DESC, t.id
    LOOP
        is_durable := c.id = ANY (durable_candidates);
        CONTINUE WHEN c.slot_cost > CASE WHEN is_durable THEN durable_budget ELSE budget END;
        IF c.routed THEN
            IF labels IS NULL THEN
                SELECT w.labels INTO labels FROM hatchnb.workers w WHERE w.id = p_worker;
                labels := coalesce(labels, '{}');
            END IF;
            CONTINUE WHEN NOT hatchnb.may_claim(c, p_worker, labels, p_patience);
        END IF;
        chosen := chosen || c.id;
        IF is_durable THEN
            durable_budget := durable_budget - c.slot_cost;
        ELSE
            budget := budget - c.slot_cost;
        END IF;
        EXIT WHEN budget <= 0 AND durable_budget <= 0;
    END LOOP;
    IF cardinality(chosen) = 0 THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT s.*, s.id = ANY (durable_candidates)
                   FROM hatchnb.start_task_runs(p_worker, chosen) s;
END;
$$;

-- finish_and_claim for a worker with a durable pool.
CREATE FUNCTION hatchnb.finish_and_claim_pooled(
    p_ids bigint[], p_attempts integer[], p_outcomes text[],
    p_outputs jsonb[], p_blobs bytea[], p_errors text[],
    p_worker uuid, p_slots integer, p_durable_slots integer, p_workflows text[], p_python text
) RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb, durable boolean
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hatchnb.finish_task_runs(p_ids, p_attempts, p_outcomes, p_outputs, p_blobs,
                                     p_errors);
    RETURN QUERY SELECT * FROM hatchnb.claim_pooled_task_runs(p_worker, p_slots,
                                                              p_durable_slots, p_workflows,
                                                              p_python);
END;
$$;
