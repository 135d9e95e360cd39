-- Batch tasks (hatchnb/batching.py, issue 17): queued task runs of one batch task and one
-- group key are handed to a worker together, once `max_size` of them wait, their inputs
-- reach `max_bytes` (Hatchet's 4 MB) or the oldest has waited `max_interval_ms`, at most
-- `max_runs` batches of a group at a time.
--
-- A batch member is a QUEUED task run with `batch_key` set. The normal claim never sees it:
-- a row trigger parks it with available_at = 'infinity' (claim_task_runs only takes rows
-- with available_at <= now(), so that function and its plan stay as they were) and keeps
-- the time it may really start in `batch_ready_at`. Every path that queues a task run
-- (trigger, parents done, retry, dead worker, hand back, concurrency admission, debounce)
-- goes through that trigger. Workers that run batch tasks also call claim_task_batches.

ALTER TABLE hatchnb.task_runs
    -- the group key value of a batch task's run ('default' without a group key), else NULL
    ADD COLUMN batch_key text,
    -- while QUEUED: when the member may join a batch (available_at is 'infinity')
    ADD COLUMN batch_ready_at timestamptz,
    -- while RUNNING: the batch it runs in
    ADD COLUMN batch_id uuid,
    -- the size of the run's input as JSON text (a batch carries at most max_bytes)
    ADD COLUMN batch_bytes integer;

CREATE INDEX task_runs_batch_queue
    ON hatchnb.task_runs (workflow_name, task_name, batch_key, priority DESC, id)
    WHERE status = 'QUEUED' AND batch_key IS NOT NULL;
CREATE INDEX task_runs_batch_running
    ON hatchnb.task_runs (workflow_name, task_name, batch_key)
    WHERE status = 'RUNNING' AND batch_id IS NOT NULL;

-- BEFORE trigger: a batch member that becomes available waits for its batch instead.
CREATE FUNCTION hatchnb.park_batch_member() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.batch_ready_at := NEW.available_at;
    NEW.available_at := 'infinity';
    NEW.batch_id := NULL;
    RETURN NEW;
END;
$$;

-- named after the concurrency triggers (triggers fire in name order): a member they turn
-- BLOCKED is parked when admission queues it
CREATE TRIGGER queue_batch_members BEFORE INSERT OR UPDATE OF status, available_at
    ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.batch_key IS NOT NULL AND NEW.status = 'QUEUED'
                       AND NEW.available_at <> 'infinity')
    EXECUTE FUNCTION hatchnb.park_batch_member();

-- Claim whole batches for a worker, one slot per batch, up to `p_slots` batches. A group
-- (version, task, key) is flushed when `max_size` members are ready, their inputs reach
-- `max_bytes`, or its oldest ready member has waited `max_interval_ms`; a batch takes the
-- longest prefix (at least one member) within `max_bytes`. Only while fewer than `max_runs`
-- of its batches
-- run (counted under a transaction-level advisory lock on the group, so two workers cannot
-- both start the last allowed batch). Returns the claimed members (start_task_runs'
-- columns) with their batch id; when some group is not due yet, also one row with a NULL
-- id whose next_due says when the first one will be.
CREATE FUNCTION hatchnb.claim_task_batches(
    p_worker uuid, p_slots integer, p_workflows text[], p_python text
) RETURNS TABLE (
    id bigint, run_id uuid, workflow_name text, task_name text, kind text, version_id bigint,
    attempt integer, retry_count integer, priority smallint, slot_cost integer,
    input jsonb, additional_metadata jsonb, parent_task_run_id bigint,
    filter_payload jsonb, event_id uuid, siblings jsonb, batch_id uuid, next_due timestamptz
)
LANGUAGE plpgsql AS $$
#variable_conflict use_column
DECLARE
    g record;
    budget integer := p_slots;
    chosen bigint[];
    sizes integer[];
    taken integer;
    total bigint;
    batch uuid;
    due timestamptz;
BEGIN
    FOR g IN
        SELECT q.version_id AS version, q.workflow_name AS workflow, q.task_name AS task,
               q.batch_key AS key, q.waiting, q.oldest, q.bytes,
               (c.batch ->> 'max_size')::int AS max_size,
               coalesce((c.batch ->> 'max_bytes')::bigint, 4194304) AS max_bytes,
               make_interval(secs => (c.batch ->> 'max_interval_ms')::int / 1000.0) AS wait,
               (c.batch ->> 'max_runs')::int AS max_runs
          FROM (SELECT t.version_id, t.workflow_name, t.task_name, t.batch_key,
                       count(*) AS waiting, min(t.batch_ready_at) AS oldest,
                       sum(coalesce(t.batch_bytes, 0)) AS bytes
                  FROM hatchnb.task_runs t
                 WHERE t.status = 'QUEUED' AND t.batch_key IS NOT NULL
                   AND t.batch_ready_at <= now()
                   AND (p_workflows IS NULL OR t.workflow_name = ANY (p_workflows))
                 GROUP BY t.version_id, t.workflow_name, t.task_name, t.batch_key) q
          JOIN hatchnb.workflow_versions v
            ON v.id = q.version_id AND v.python_version = p_python
         CROSS JOIN LATERAL (
               SELECT s -> 'batch' AS batch FROM jsonb_array_elements(v.spec -> 'tasks') s
                WHERE s ->> 'name' = q.task_name) c
         ORDER BY q.oldest
    LOOP
        IF g.waiting < g.max_size AND g.bytes < g.max_bytes AND g.oldest + g.wait > now() THEN
            due := least(due, g.oldest + g.wait);
            CONTINUE;
        END IF;
        CONTINUE WHEN budget <= 0;
        CONTINUE WHEN NOT pg_try_advisory_xact_lock(
            hashtextextended('hatchnb.batch:' || g.workflow || '.' || g.task || '=' || g.key, 0));
        CONTINUE WHEN (SELECT count(DISTINCT t.batch_id) FROM hatchnb.task_runs t
                        WHERE t.status = 'RUNNING' AND t.batch_id IS NOT NULL
                          AND t.workflow_name = g.workflow AND t.task_name = g.task
                          AND t.batch_key = g.key) >= g.max_runs;
        SELECT array_agg(m.id ORDER BY m.priority DESC, m.id),
               array_agg(coalesce(m.batch_bytes, 0) ORDER BY m.priority DESC, m.id)
          INTO chosen, sizes
          FROM (SELECT t.id, t.priority, t.batch_bytes FROM hatchnb.task_runs t
                 WHERE t.status = 'QUEUED' AND t.batch_key = g.key
                   AND t.workflow_name = g.workflow AND t.task_name = g.task
                   AND t.version_id = g.version AND t.batch_ready_at <= now()
                 ORDER BY t.priority DESC, t.id
                 LIMIT g.max_size
                   FOR UPDATE OF t SKIP LOCKED) m;
        CONTINUE WHEN chosen IS NULL;
        taken := 0;
        total := 0;
        WHILE taken < cardinality(sizes)
              AND (taken = 0 OR total + sizes[taken + 1] <= g.max_bytes) LOOP
            taken := taken + 1;
            total := total + sizes[taken];
        END LOOP;
        chosen := chosen[1:taken];  -- the rest stay queued (their locks end with the claim)
        batch := gen_random_uuid();
        RETURN QUERY SELECT s.*, batch, NULL::timestamptz
                       FROM hatchnb.start_task_runs(p_worker, chosen) s;
        -- one slot per batch: its other members do not count against the worker
        UPDATE hatchnb.task_runs t SET batch_id = batch, slot_released = (t.id <> chosen[1])
         WHERE t.id = ANY (chosen);
        budget := budget - 1;
    END LOOP;
    IF due IS NOT NULL THEN
        RETURN QUERY SELECT NULL::bigint, NULL::uuid, NULL::text, NULL::text, NULL::text,
                            NULL::bigint, NULL::integer, NULL::integer, NULL::smallint,
                            NULL::integer, NULL::jsonb, NULL::jsonb, NULL::bigint, NULL::jsonb,
                            NULL::uuid, NULL::jsonb, NULL::uuid, due;
    END IF;
END;
$$;
