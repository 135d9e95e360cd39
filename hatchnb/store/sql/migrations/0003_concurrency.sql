-- Concurrency keys: slot rows, holds, the triggers that park, gate, release and admit task
-- runs, and the leader's sweep. The columns it reads are in 0001_core.sql
-- (task_runs.concurrency, wait_key; workflow_runs.has_concurrency).
--
-- A task run that needs concurrency slots lists them in `concurrency`
-- ([{slot, scope, max_runs, strategy, ...}], evaluated from CEL when the run is triggered).
-- A slot is one key of one ConcurrencyExpression; its holders are task runs (scope 'task',
-- holder 't:<id>') or whole workflow runs (scope 'run', holder 'r:<id>').
--
-- * A new task run with slots is parked BLOCKED on its first key; a statement trigger then
--   admits, per key, as many waiters as there is room for, oldest first, so a bulk insert
--   costs one admission per key instead of a gate pass per row.
-- * A task run that becomes QUEUED again (retry, hand-back) or that waits for several keys
--   passes the gate trigger, which holds all its slots or leaves it BLOCKED on a full one.
-- * A holder that reaches a final state drops its holds and notes the freed keys; one
--   statement-level trigger then admits waiters once per key (set-based: lock the key's row,
--   count its free capacity, hand that many single-key waiters their holds at once).
-- Slot rows are locked with SKIP LOCKED so concurrent transactions never wait on each other
-- (no deadlocks); capacity a release could not hand out (another transaction held the key's
-- row) goes to the next admission on that key, or to the leader's sweep.

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

-- ---- holding slots -----------------------------------------------------------------------

-- Create a task run's slot rows, and follow a redeclared max_runs or strategy.
CREATE FUNCTION hatchnb.ensure_slot_rows(p_concurrency jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO hatchnb.concurrency_slots
          (slot, workflow_name, task_name, expression, key, strategy, max_runs)
    SELECT x.slot, x.workflow_name, x.task_name, x.expression, x.key, x.strategy, x.max_runs
      FROM jsonb_to_recordset(p_concurrency) AS x (slot text, workflow_name text,
           task_name text, expression text, key text, strategy text, max_runs integer)
    ON CONFLICT (slot) DO NOTHING;  -- DO UPDATE would lock the row even when nothing changes
    UPDATE hatchnb.concurrency_slots s SET max_runs = x.max_runs, strategy = x.strategy
      FROM jsonb_to_recordset(p_concurrency) AS x (slot text, strategy text, max_runs integer)
     WHERE s.slot = x.slot AND (s.max_runs <> x.max_runs OR s.strategy <> x.strategy);
$$;

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
    PERFORM hatchnb.ensure_slot_rows(p_concurrency);

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

-- BEFORE UPDATE trigger: a task run with concurrency slots that becomes QUEUED stays BLOCKED
-- until it holds all of them.
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

-- BEFORE INSERT trigger: a new task run with slots waits BLOCKED on its first key (the
-- statement trigger admits it).
CREATE FUNCTION hatchnb.park_new_task_run() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    e record;
    stale boolean := false;
BEGIN
    FOR e IN SELECT x.slot, x.strategy, x.max_runs
               FROM jsonb_to_recordset(NEW.concurrency) AS x (slot text, strategy text,
                    max_runs integer)
              ORDER BY x.slot
    LOOP
        stale := stale OR NOT EXISTS (
            SELECT 1 FROM hatchnb.concurrency_slots s
             WHERE s.slot = e.slot AND s.max_runs = e.max_runs AND s.strategy = e.strategy);
        PERFORM hatchnb.note_slot_to_admit(e.slot);
    END LOOP;
    IF stale THEN
        PERFORM hatchnb.ensure_slot_rows(NEW.concurrency);
    END IF;
    NEW.status := 'BLOCKED';
    NEW.wait_key := NEW.concurrency -> 0 ->> 'slot';
    RETURN NEW;
END;
$$;

CREATE TRIGGER park_new_task_runs BEFORE INSERT ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND NEW.concurrency IS NOT NULL)
    EXECUTE FUNCTION hatchnb.park_new_task_run();
-- admitted by admit_slots (BLOCKED to QUEUED with wait_key cleared): already holds its slot
CREATE TRIGGER gate_queued_task_runs BEFORE UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND OLD.status <> 'QUEUED'
                       AND NEW.concurrency IS NOT NULL
                       AND NOT (OLD.status = 'BLOCKED' AND NEW.wait_key IS NULL))
    EXECUTE FUNCTION hatchnb.gate_task_run();

-- ---- admitting, once per statement -------------------------------------------------------

-- Admit BLOCKED task runs waiting for the given keys, in queue order, up to each key's free
-- capacity. Keys another transaction is admitting on are skipped (it or the sweep admits).
CREATE FUNCTION hatchnb.admit_slots(p_slots text[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    picked bigint[];
    w record;
    after record;
    admitted integer := 0;
BEGIN
    WITH keys AS (
        SELECT s.slot, s.max_runs FROM hatchnb.concurrency_slots s
         WHERE s.slot = ANY (p_slots) ORDER BY s.slot
           FOR UPDATE SKIP LOCKED
    )
    SELECT array_agg(waiter.id) INTO picked
      FROM keys k
      CROSS JOIN LATERAL (
          SELECT t.id FROM hatchnb.task_runs t
           WHERE t.status = 'BLOCKED' AND t.wait_key = k.slot
           ORDER BY t.priority DESC, t.id
           LIMIT greatest(0, k.max_runs - (SELECT count(*) FROM hatchnb.concurrency_holds h
                                             WHERE h.slot = k.slot))
             FOR UPDATE SKIP LOCKED) waiter;
    IF picked IS NULL THEN
        RETURN 0;
    END IF;

    -- the common case: the key is the waiter's only slot; it gets its hold here
    WITH single AS (
        SELECT t.id, t.run_id, t.wait_key, t.concurrency -> 0 ->> 'scope' AS scope
          FROM hatchnb.task_runs t
         WHERE t.id = ANY (picked) AND jsonb_array_length(t.concurrency) = 1
    ), held AS (
        INSERT INTO hatchnb.concurrency_holds (slot, holder)
        SELECT DISTINCT s.wait_key, CASE s.scope WHEN 'run' THEN 'r:' || s.run_id
                                                 ELSE 't:' || s.id END
          FROM single s
        ON CONFLICT DO NOTHING
    )
    UPDATE hatchnb.task_runs t SET status = 'QUEUED', wait_key = NULL, available_at = now()
      FROM single s WHERE t.id = s.id;
    GET DIAGNOSTICS admitted = ROW_COUNT;

    -- waiters with several keys pass the gate, which checks (and holds) every one of them
    IF admitted < cardinality(picked) THEN
        FOR w IN SELECT t.id FROM hatchnb.task_runs t
                  WHERE t.id = ANY (picked) AND t.status = 'BLOCKED'
                  ORDER BY t.priority DESC, t.id
        LOOP
            UPDATE hatchnb.task_runs t SET status = 'QUEUED', available_at = now()
             WHERE t.id = w.id RETURNING t.status INTO after;
            IF after.status = 'QUEUED' THEN
                admitted := admitted + 1;
            END IF;
        END LOOP;
    END IF;

    -- the other BLOCKED task runs of runs that now hold a run-scoped slot (a run with one
    -- unfinished task has none: standalone tasks skip the search)
    UPDATE hatchnb.task_runs t SET status = 'QUEUED', available_at = now()
      FROM (SELECT DISTINCT p.run_id FROM hatchnb.task_runs p
              JOIN hatchnb.workflow_runs r ON r.id = p.run_id
             WHERE p.id = ANY (picked) AND p.status = 'QUEUED' AND r.pending_tasks > 1
               AND p.concurrency @> '[{"scope": "run"}]') runs
     WHERE t.run_id = runs.run_id AND t.status = 'BLOCKED';
    IF admitted > 0 THEN
        PERFORM pg_notify('hatchnb_queued', '');
    END IF;
    RETURN admitted;
END;
$$;

-- Remember a key whose waiters the current statement's trigger should admit. The keys are kept
-- in a transaction-local setting, each one wrapped in unit separators (E'\x1f').
CREATE FUNCTION hatchnb.note_slot_to_admit(p_slot text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    noted text := coalesce(current_setting('hatchnb.slots_to_admit', true), '');
BEGIN
    IF strpos(noted, E'\x1f' || p_slot || E'\x1f') = 0 THEN
        PERFORM set_config('hatchnb.slots_to_admit', noted || E'\x1f' || p_slot || E'\x1f',
                           true);
    END IF;
END;
$$;

-- Row trigger on task_runs (holder 't:<id>') and workflow_runs (holder 'r:<id>'): a holder
-- reached a final state; drop its holds and note the freed keys.
CREATE FUNCTION hatchnb.release_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    freed text;
BEGIN
    FOR freed IN
        DELETE FROM hatchnb.concurrency_holds
         WHERE holder = CASE TG_TABLE_NAME WHEN 'task_runs' THEN 't:' ELSE 'r:' END || NEW.id
        RETURNING slot
    LOOP
        PERFORM hatchnb.note_slot_to_admit(freed);
    END LOOP;
    RETURN NULL;
END;
$$;

-- Statement trigger: admit waiters of the noted keys. The list is cleared first, so the
-- updates admission makes (statements of their own) find nothing to do.
CREATE FUNCTION hatchnb.admit_noted_slots() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted text := current_setting('hatchnb.slots_to_admit', true);
BEGIN
    IF coalesce(noted, '') = '' THEN
        RETURN NULL;
    END IF;
    PERFORM set_config('hatchnb.slots_to_admit', '', true);
    PERFORM hatchnb.admit_slots(array_remove(string_to_array(noted, E'\x1f'), ''));
    RETURN NULL;
END;
$$;

-- only task-scoped slots have task run holders: run-scoped ones go with the workflow run
CREATE TRIGGER release_task_run_slots AFTER UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.concurrency @> '[{"scope": "task"}]'
                       AND NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED')
                       AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'))
    EXECUTE FUNCTION hatchnb.release_slots();
CREATE TRIGGER release_run_slots AFTER UPDATE OF status ON hatchnb.workflow_runs
    FOR EACH ROW WHEN (NEW.has_concurrency
                       AND NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
                       AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED'))
    EXECUTE FUNCTION hatchnb.release_slots();

CREATE TRIGGER admit_after_new_task_runs AFTER INSERT ON hatchnb.task_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();
CREATE TRIGGER admit_after_task_runs AFTER UPDATE OF status ON hatchnb.task_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();
CREATE TRIGGER admit_after_workflow_runs AFTER UPDATE OF status ON hatchnb.workflow_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();

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

    -- one admission per key, as a release would do
    PERFORM hatchnb.admit_slots(ARRAY[k.wait_key])
       FROM (SELECT DISTINCT t.wait_key FROM hatchnb.task_runs t
              WHERE t.status = 'BLOCKED' AND t.wait_key IS NOT NULL) k;
END;
$$;
