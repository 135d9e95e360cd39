-- Cheaper concurrency admission: finishing a keyed task run cost about 0.4 ms more than a
-- plain one, most of it spent admitting the next waiter row by row.
--
-- * Releases are collected per statement: the row triggers only delete the finished
--   holder's holds and note the freed keys; one statement-level trigger then admits waiters
--   once per key, however many of the statement's task runs held it.
-- * Admission is set-based: lock the key's row, count its free capacity, and hand that many
--   waiters whose only slot is this key their holds in one INSERT and one UPDATE (the gate
--   trigger is skipped for them). Waiters with several keys still pass the gate one by one.
-- Capacity a release could not hand out (another transaction held the key's row) goes to
-- the next admission on that key, or to the leader's sweep.

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

-- BEFORE INSERT trigger: a new task run with slots waits BLOCKED on its first key; the
-- statement trigger then admits, per key, as many waiters as there is room for, oldest
-- first. A bulk insert so costs one admission per key instead of a gate pass per row.
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

DROP TRIGGER gate_new_task_runs ON hatchnb.task_runs;
CREATE TRIGGER park_new_task_runs BEFORE INSERT ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND NEW.concurrency IS NOT NULL)
    EXECUTE FUNCTION hatchnb.park_new_task_run();


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

CREATE OR REPLACE FUNCTION hatchnb.admit_waiters(p_slot text) RETURNS integer
LANGUAGE sql AS $$
    SELECT hatchnb.admit_slots(ARRAY[p_slot])
$$;

-- Admitted by admit_slots (BLOCKED to QUEUED with wait_key cleared): already holds its slot.
DROP TRIGGER gate_queued_task_runs ON hatchnb.task_runs;
CREATE TRIGGER gate_queued_task_runs BEFORE UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.status = 'QUEUED' AND OLD.status <> 'QUEUED'
                       AND NEW.concurrency IS NOT NULL
                       AND NOT (OLD.status = 'BLOCKED' AND NEW.wait_key IS NULL))
    EXECUTE FUNCTION hatchnb.gate_task_run();

-- ---- admitting, once per statement -------------------------------------------------------

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

-- Row trigger: a holder reached a final state; drop its holds and note the freed keys.
CREATE OR REPLACE FUNCTION hatchnb.release_slots() RETURNS trigger
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
DROP TRIGGER release_task_run_slots ON hatchnb.task_runs;
CREATE TRIGGER release_task_run_slots AFTER UPDATE OF status ON hatchnb.task_runs
    FOR EACH ROW WHEN (NEW.concurrency @> '[{"scope": "task"}]'
                       AND NEW.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED')
                       AND OLD.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'))
    EXECUTE FUNCTION hatchnb.release_slots();

CREATE TRIGGER admit_after_new_task_runs AFTER INSERT ON hatchnb.task_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();
CREATE TRIGGER admit_after_task_runs AFTER UPDATE OF status ON hatchnb.task_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();
CREATE TRIGGER admit_after_workflow_runs AFTER UPDATE OF status ON hatchnb.workflow_runs
    FOR EACH STATEMENT EXECUTE FUNCTION hatchnb.admit_noted_slots();

DROP FUNCTION hatchnb.release_holder(text);
