-- Flow control: concurrency keys, rate limits, slot costs, sticky runs and worker affinity.
--
-- Concurrency. A task run that needs concurrency slots lists them in `concurrency`
-- ([{slot, scope, max_runs, strategy, ...}], evaluated from CEL when the run is triggered).
-- A slot is one key of one ConcurrencyExpression; its holders are task runs (scope 'task',
-- holder 't:<id>') or whole workflow runs (scope 'run', holder 'r:<id>'). The gate trigger
-- turns a task run that becomes QUEUED into BLOCKED when one of its slots is full; a holder
-- that reaches a final state releases its slots and admits the next BLOCKED task runs of
-- those keys, highest priority first, FIFO within a priority. Slot rows are locked with
-- SKIP LOCKED so concurrent transactions never wait on each other (no deadlocks); the rare
-- waiter that such a race leaves BLOCKED is admitted by the leader's sweep.

ALTER TABLE hatchnb.task_runs
    ADD COLUMN concurrency jsonb,
    -- while BLOCKED: the slot this task run waits for
    ADD COLUMN wait_key text,
    -- [{key, units}] consumed when a worker claims the task run
    ADD COLUMN rate_limits jsonb,
    ADD COLUMN slot_cost integer NOT NULL DEFAULT 1,
    -- ctx.release_slot() was called: the worker's slots are free again
    ADD COLUMN slot_released boolean NOT NULL DEFAULT false,
    -- {label: {value, required, weight, comparator}}
    ADD COLUMN desired_labels jsonb,
    -- anything the claim must check besides the queue order (labels, sticky, rate limits,
    -- slot cost); the fast path skips all of it for plain task runs
    ADD COLUMN routed boolean NOT NULL DEFAULT false;
CREATE INDEX task_runs_blocked ON hatchnb.task_runs (wait_key, priority DESC, id)
    WHERE status = 'BLOCKED';

ALTER TABLE hatchnb.workflow_runs
    ADD COLUMN has_concurrency boolean NOT NULL DEFAULT false,
    ADD COLUMN sticky text,
    ADD COLUMN sticky_worker_id uuid;

CREATE TABLE hatchnb.concurrency_slots (
    slot text PRIMARY KEY,
    workflow_name text NOT NULL,
    task_name text,
    expression text NOT NULL,
    key text NOT NULL,
    strategy text NOT NULL,
    max_runs integer NOT NULL
);

CREATE TABLE hatchnb.concurrency_holds (
    slot text NOT NULL,
    holder text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (slot, holder)
);
CREATE INDEX concurrency_holds_holder ON hatchnb.concurrency_holds (holder);

CREATE TABLE hatchnb.rate_limits (
    key text PRIMARY KEY,
    limit_value integer NOT NULL CHECK (limit_value > 0),
    duration text NOT NULL,
    window_start timestamptz NOT NULL DEFAULT now(),
    used integer NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION hatchnb.rate_limit_interval(p_duration text) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE p_duration
        WHEN 'SECOND' THEN interval '1 second' WHEN 'MINUTE' THEN interval '1 minute'
        WHEN 'HOUR' THEN interval '1 hour' WHEN 'DAY' THEN interval '1 day'
        WHEN 'WEEK' THEN interval '1 week' WHEN 'MONTH' THEN interval '1 month'
        ELSE interval '1 year' END
$$;

-- Has the limit's current window ended (the next use starts a new one)?
CREATE FUNCTION hatchnb.rate_limit_expired(l hatchnb.rate_limits) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT l.window_start + hatchnb.rate_limit_interval(l.duration) <= now()
$$;

-- ---- concurrency -------------------------------------------------------------------------

-- Try to hold every slot of a task run; returns NULL when all are held, else the first full
-- (or busy) slot. `p_keep`: the task run goes back to the queue after running (retry,
-- eviction, dead worker) and keeps what it held, whatever the count.
CREATE FUNCTION hatchnb.hold_slots(p_concurrency jsonb, p_task bigint, p_run uuid,
                                   p_keep boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    who text;
    held integer;
BEGIN
    INSERT INTO hatchnb.concurrency_slots
          (slot, workflow_name, task_name, expression, key, strategy, max_runs)
    SELECT x.slot, x.workflow_name, x.task_name, x.expression, x.key, x.strategy, x.max_runs
      FROM jsonb_to_recordset(p_concurrency) AS x (slot text, workflow_name text,
           task_name text, expression text, key text, strategy text, max_runs integer)
    ON CONFLICT (slot) DO NOTHING;  -- DO UPDATE would lock the row even when nothing changes
    UPDATE hatchnb.concurrency_slots s SET max_runs = x.max_runs, strategy = x.strategy
      FROM jsonb_to_recordset(p_concurrency) AS x (slot text, strategy text, max_runs integer)
     WHERE s.slot = x.slot AND (s.max_runs <> x.max_runs OR s.strategy <> x.strategy);

    FOR e IN SELECT x.slot, x.scope, x.max_runs
               FROM jsonb_to_recordset(p_concurrency) AS x (slot text, scope text,
                    max_runs integer)
              ORDER BY x.slot
    LOOP
        who := CASE e.scope WHEN 'run' THEN 'r:' || p_run ELSE 't:' || p_task END;
        CONTINUE WHEN p_keep OR EXISTS (
            SELECT 1 FROM hatchnb.concurrency_holds h WHERE h.slot = e.slot AND h.holder = who);
        PERFORM 1 FROM hatchnb.concurrency_slots s WHERE s.slot = e.slot
            FOR UPDATE SKIP LOCKED;
        IF NOT FOUND THEN
            RETURN e.slot;  -- another transaction is admitting on this key right now
        END IF;
        SELECT count(*) INTO held FROM hatchnb.concurrency_holds h WHERE h.slot = e.slot;
        IF held >= e.max_runs THEN
            RETURN e.slot;
        END IF;
    END LOOP;

    INSERT INTO hatchnb.concurrency_holds (slot, holder)
    SELECT x.slot, CASE x.scope WHEN 'run' THEN 'r:' || p_run ELSE 't:' || p_task END
      FROM jsonb_to_recordset(p_concurrency) AS x (slot text, scope text)
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

-- BEFORE trigger: a task run with concurrency slots that becomes QUEUED stays BLOCKED until
-- it holds all of them.
CREATE FUNCTION hatchnb.gate_task_run() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    full_slot text;
BEGIN
    full_slot := hatchnb.hold_slots(
        NEW.concurrency, NEW.id, NEW.run_id, TG_OP = 'UPDATE' AND OLD.status = 'RUNNING');
    IF full_slot IS NULL THEN
        NEW.wait_key := NULL;
    ELSE
        NEW.status := 'BLOCKED';
        NEW.wait_key := full_slot;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER gate_new_task_runs BEFORE INSERT ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND NEW.concurrency IS NOT NULL)
    EXECUTE FUNCTION hatchnb.gate_task_run();
CREATE TRIGGER gate_queued_task_runs BEFORE UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND OLD.status <> 'QUEUED'
                       AND NEW.concurrency IS NOT NULL)
    EXECUTE FUNCTION hatchnb.gate_task_run();

-- Admit the BLOCKED task runs waiting for a slot, in queue order, while the gate lets them
-- through; the other BLOCKED task runs of an admitted run follow (a run-scoped slot).
CREATE FUNCTION hatchnb.admit_waiters(p_slot text) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    w record;
    after record;
    admitted integer := 0;
BEGIN
    LOOP
        SELECT t.id, t.run_id, t.concurrency INTO w FROM hatchnb.task_runs t
         WHERE t.status = 'BLOCKED' AND t.wait_key = p_slot
         ORDER BY t.priority DESC, t.id LIMIT 1
           FOR UPDATE SKIP LOCKED;
        EXIT WHEN NOT FOUND;
        UPDATE hatchnb.task_runs t SET status = 'QUEUED', available_at = now()
         WHERE t.id = w.id RETURNING t.status, t.wait_key INTO after;
        IF after.status = 'BLOCKED' THEN
            EXIT WHEN after.wait_key = p_slot;  -- full again
            CONTINUE;                           -- now waits for another of its slots
        END IF;
        admitted := admitted + 1;
        IF w.concurrency @> '[{"scope": "run"}]' THEN
            UPDATE hatchnb.task_runs t SET status = 'QUEUED', available_at = now()
             WHERE t.run_id = w.run_id AND t.status = 'BLOCKED';
        END IF;
    END LOOP;
    IF admitted > 0 THEN
        PERFORM pg_notify('hatchnb_queued', '');
    END IF;
    RETURN admitted;
END;
$$;

CREATE FUNCTION hatchnb.release_holder(p_holder text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    freed text;
BEGIN
    FOR freed IN DELETE FROM hatchnb.concurrency_holds WHERE holder = p_holder RETURNING slot
    LOOP
        PERFORM hatchnb.admit_waiters(freed);
    END LOOP;
END;
$$;

-- AFTER trigger on task_runs (holder 't:<id>') and workflow_runs (holder 'r:<id>').
CREATE FUNCTION hatchnb.release_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hatchnb.release_holder(
        CASE TG_TABLE_NAME WHEN 'task_runs' THEN 't:' ELSE 'r:' END || NEW.id);
    RETURN NULL;
END;
$$;

CREATE TRIGGER release_task_run_slots AFTER UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.concurrency IS NOT NULL
                       AND NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED')
                       AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'))
    EXECUTE FUNCTION hatchnb.release_slots();
CREATE TRIGGER release_run_slots AFTER UPDATE OF status ON hatchnb.workflow_runs
    FOR EACH ROW WHEN (NEW.has_concurrency
                       AND NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                       AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED'))
    EXECUTE FUNCTION hatchnb.release_slots();

-- The leader's sweep: enforce CANCEL_IN_PROGRESS / CANCEL_NEWEST on keys with waiters, then
-- admit waiters a race left behind. Returns the cancelled task runs that were running.
CREATE FUNCTION hatchnb.sweep_concurrency()
RETURNS TABLE (task_run_id bigint, worker_id uuid)
LANGUAGE plpgsql AS $$
DECLARE
    s record;
    victims uuid[];
BEGIN
    FOR s IN SELECT c.slot, c.strategy, c.max_runs FROM hatchnb.concurrency_slots c
              WHERE c.strategy <> 'GROUP_ROUND_ROBIN'
                AND EXISTS (SELECT 1 FROM hatchnb.task_runs t
                             WHERE t.status = 'BLOCKED' AND t.wait_key = c.slot)
    LOOP
        IF s.strategy = 'CANCEL_NEWEST' THEN
            SELECT array_agg(DISTINCT t.run_id) INTO victims FROM hatchnb.task_runs t
             WHERE t.status = 'BLOCKED' AND t.wait_key = s.slot;
        ELSE
            -- keep the newest max_runs runs of the key, running or waiting; cancel the rest
            WITH contenders AS (
                SELECT CASE WHEN h.holder LIKE 'r:%' THEN substr(h.holder, 3)::uuid
                            ELSE (SELECT t.run_id FROM hatchnb.task_runs t
                                   WHERE t.id = substr(h.holder, 3)::bigint) END AS run_id
                  FROM hatchnb.concurrency_holds h WHERE h.slot = s.slot
                UNION
                SELECT t.run_id FROM hatchnb.task_runs t
                 WHERE t.status = 'BLOCKED' AND t.wait_key = s.slot
            )
            SELECT array_agg(c.run_id) INTO victims FROM (
                SELECT c.run_id FROM contenders c
                  JOIN hatchnb.workflow_runs r ON r.id = c.run_id
                 ORDER BY r.created_at DESC, r.id DESC OFFSET s.max_runs) c;
        END IF;
        IF victims IS NOT NULL THEN
            UPDATE hatchnb.workflow_runs r
               SET error = 'cancelled by the concurrency limit (' || s.strategy || ') of key '
                           || s.slot
             WHERE r.id = ANY (victims);
            RETURN QUERY SELECT * FROM hatchnb.cancel_runs(victims);
        END IF;
    END LOOP;

    PERFORM hatchnb.admit_waiters(k.wait_key)
       FROM (SELECT DISTINCT t.wait_key FROM hatchnb.task_runs t
              WHERE t.status = 'BLOCKED' AND t.wait_key IS NOT NULL) k;
END;
$$;

-- Cancelling and schedule timeouts also cover BLOCKED task runs.
CREATE OR REPLACE FUNCTION hatchnb.cancel_runs(p_run_ids uuid[])
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

-- ---- worker affinity ---------------------------------------------------------------------

-- Does a worker's label value satisfy a desired one? Comparators read as
-- "desired <comparator> worker's value", as in Hatchet; numbers compare as numbers.
CREATE FUNCTION hatchnb.label_matches(p_have jsonb, p_want jsonb, p_comparator text)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    numeric_pair boolean := jsonb_typeof(p_have) = 'number' AND jsonb_typeof(p_want) = 'number';
    have numeric;
    want numeric;
BEGIN
    IF coalesce(p_comparator, 'EQUAL') IN ('EQUAL', 'NOT_EQUAL') THEN
        RETURN ((p_have #>> '{}') = (p_want #>> '{}')) = (coalesce(p_comparator, 'EQUAL') = 'EQUAL');
    END IF;
    IF NOT numeric_pair THEN
        RETURN false;
    END IF;
    have := (p_have #>> '{}')::numeric;
    want := (p_want #>> '{}')::numeric;
    RETURN CASE p_comparator
        WHEN 'GREATER_THAN' THEN want > have
        WHEN 'GREATER_THAN_OR_EQUAL' THEN want >= have
        WHEN 'LESS_THAN' THEN want < have
        WHEN 'LESS_THAN_OR_EQUAL' THEN want <= have
        ELSE false END;
END;
$$;

-- A worker's score for a task's desired labels: the sum of the weights it matches, or NULL
-- when it misses a required label.
CREATE FUNCTION hatchnb.label_score(p_labels jsonb, p_desired jsonb) RETURNS integer
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    d record;
    score integer := 0;
BEGIN
    FOR d IN SELECT key, value FROM jsonb_each(p_desired) LOOP
        IF p_labels ? d.key AND hatchnb.label_matches(
                p_labels -> d.key, d.value -> 'value', d.value ->> 'comparator') THEN
            score := score + coalesce((d.value ->> 'weight')::integer, 100);
        ELSIF coalesce((d.value ->> 'required')::boolean, false) THEN
            RETURN NULL;
        END IF;
    END LOOP;
    RETURN score;
END;
$$;

-- Slots a worker is using now.
CREATE FUNCTION hatchnb.worker_slots_used(p_worker uuid) RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(slot_cost), 0)::integer FROM hatchnb.task_runs
     WHERE worker_id = p_worker AND status = 'RUNNING' AND NOT slot_released
$$;

-- ---- claiming ----------------------------------------------------------------------------

-- May this worker take this routed task run now? Checks sticky runs, required and preferred
-- labels (the best-scoring free worker wins; after `p_patience` any eligible worker may take
-- it), and rate limits (a task run over a limit waits for the next window without blocking
-- the queue behind it).
CREATE FUNCTION hatchnb.may_claim(c hatchnb.task_runs, p_worker uuid, p_labels jsonb,
                                  p_patience interval) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    run record;
    mine integer;
    rival integer;
    limits record;
    checked integer := 0;
    owner_free boolean;
BEGIN
    SELECT r.sticky, r.sticky_worker_id INTO run FROM hatchnb.workflow_runs r
     WHERE r.id = c.run_id;
    IF run.sticky_worker_id IS NOT NULL AND run.sticky_worker_id <> p_worker THEN
        IF run.sticky = 'HARD' THEN
            RETURN false;
        END IF;
        SELECT w.status = 'ACTIVE' AND hatchnb.worker_slots_used(w.id) + c.slot_cost <= w.slots
               AND (w.workflows IS NULL OR c.workflow_name = ANY (w.workflows))
          INTO owner_free FROM hatchnb.workers w WHERE w.id = run.sticky_worker_id;
        IF coalesce(owner_free, false) AND c.queued_at > now() - p_patience THEN
            RETURN false;  -- the run's own worker is free: leave it there
        END IF;
    END IF;

    IF c.desired_labels IS NOT NULL THEN
        mine := hatchnb.label_score(p_labels, c.desired_labels);
        IF mine IS NULL THEN
            RETURN false;
        END IF;
        IF c.queued_at > now() - p_patience THEN
            SELECT max(hatchnb.label_score(w.labels, c.desired_labels)) INTO rival
              FROM hatchnb.workers w
             WHERE w.id <> p_worker AND w.status = 'ACTIVE'
               AND w.last_heartbeat_at > now() - interval '30 seconds'
               AND (w.workflows IS NULL OR c.workflow_name = ANY (w.workflows))
               AND hatchnb.worker_slots_used(w.id) + c.slot_cost <= w.slots;
            IF rival > mine THEN
                RETURN false;
            END IF;
        END IF;
    END IF;

    IF c.rate_limits IS NOT NULL THEN
        -- lock the keys in order, without waiting: a key another claim holds is tried later
        FOR limits IN
            SELECT l.key, l.limit_value, x.units,
                   CASE WHEN hatchnb.rate_limit_expired(l) THEN 0 ELSE l.used END AS used,
                   CASE WHEN hatchnb.rate_limit_expired(l) THEN now() ELSE l.window_start END
                       + hatchnb.rate_limit_interval(l.duration) AS window_end
              FROM jsonb_to_recordset(c.rate_limits) AS x (key text, units integer)
              JOIN hatchnb.rate_limits l ON l.key = x.key
             ORDER BY l.key
               FOR UPDATE OF l SKIP LOCKED
        LOOP
            IF limits.used + limits.units > limits.limit_value THEN
                UPDATE hatchnb.task_runs SET available_at = limits.window_end WHERE id = c.id;
                RETURN false;
            END IF;
            checked := checked + 1;
        END LOOP;
        IF checked < jsonb_array_length(c.rate_limits) THEN
            RETURN false;  -- another claim holds one of the keys: try again next round
        END IF;
        UPDATE hatchnb.rate_limits l
           SET used = x.units + CASE WHEN hatchnb.rate_limit_expired(l) THEN 0 ELSE l.used END,
               window_start = CASE WHEN hatchnb.rate_limit_expired(l)
                                   THEN now() ELSE l.window_start END,
               updated_at = now()
          FROM jsonb_to_recordset(c.rate_limits) AS x (key text, units integer)
         WHERE l.key = x.key;
    END IF;
    RETURN true;
END;
$$;

-- Claim up to `p_slots` slots' worth of queued task runs for a worker: highest priority
-- first, FIFO within a priority, only versions its Python can load, only its workflows.
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
    chosen bigint[] := '{}';
BEGIN
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

    UPDATE hatchnb.task_runs t
       SET status = 'RUNNING', worker_id = p_worker, attempt = t.attempt + 1,
           slot_released = false, started_at = now(), timeout_at = now() + t.execution_timeout
     WHERE t.id = ANY (chosen);
    UPDATE hatchnb.workflow_runs r
       SET status = CASE WHEN r.status = 'QUEUED' THEN 'RUNNING' ELSE r.status END,
           started_at = coalesce(r.started_at, now()),
           sticky_worker_id = CASE WHEN r.sticky IS NOT NULL
                                   THEN coalesce(r.sticky_worker_id, p_worker) END
     WHERE r.id IN (SELECT t.run_id FROM hatchnb.task_runs t WHERE t.id = ANY (chosen))
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
     WHERE t.id = ANY (chosen)
     ORDER BY t.priority DESC, t.id;
END;
$$;
