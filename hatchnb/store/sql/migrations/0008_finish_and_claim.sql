-- A worker reports its finished task runs and claims again in one round trip (issue 15).

-- Apply a batch of results (hatchnb.finish_task_runs), then claim up to `p_slots` slots'
-- worth of task runs (hatchnb.claim_task_runs), in one transaction: the claim already sees
-- the children the results released.
CREATE FUNCTION hatchnb.finish_and_claim(
    p_ids bigint[], p_attempts integer[], p_outcomes text[],
    p_outputs jsonb[], p_blobs bytea[], p_errors text[],
    p_worker uuid, p_slots integer, p_workflows text[], p_python text
) RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb
)
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hatchnb.finish_task_runs(p_ids, p_attempts, p_outcomes, p_outputs, p_blobs,
                                     p_errors);
    RETURN QUERY SELECT * FROM hatchnb.claim_task_runs(p_worker, p_slots, p_workflows,
                                                       p_python);
END;
$$;
