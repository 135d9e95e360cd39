-- Routing: what a claim checks besides the queue order for a task run marked `routed`
-- (0001_core.sql): rate limits, worker labels (required and preferred), sticky runs and slot
-- costs. hatchnb.claim_task_runs (0002_state_machine.sql) calls hatchnb.may_claim for each
-- routed candidate.

-- ---- rate limits -------------------------------------------------------------------------

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

-- May this worker take this routed task run now (called by claim_task_runs)? Checks sticky
-- runs, required and preferred labels (the best-scoring free worker wins; after `p_patience`
-- any eligible worker may take it), and rate limits (a task run over a limit waits for the
-- next window without blocking the queue behind it).
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
