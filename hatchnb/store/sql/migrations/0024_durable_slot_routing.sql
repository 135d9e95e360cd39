-- Routing and durable slots: a worker with a separate pool of durable slots (0020) has room
-- for a task run when the run's own pool has, so its durable runs no longer count against
-- the slots of its other task runs when a sticky run or a preferred label looks for a free
-- worker. The worker records its pool at registration (NULL: one pool).

ALTER TABLE hatchnb.workers ADD COLUMN durable_slots integer;

-- Slots of one pool a worker is using now: its durable task runs' or its others'.
CREATE FUNCTION hatchnb.worker_pool_slots_used(p_worker uuid, p_durable boolean)
RETURNS integer
LANGUAGE sql STABLE AS $$
    SELECT coalesce(sum(slot_cost), 0)::integer FROM hatchnb.task_runs
     WHERE worker_id = p_worker AND status = 'RUNNING' AND NOT slot_released
       AND hatchnb.is_durable_task(version_id, task_name) = p_durable
$$;

-- Whether the worker has a free slot for the task run, in the pool the run would take.
CREATE FUNCTION hatchnb.worker_has_room(w hatchnb.workers, c hatchnb.task_runs)
RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
DECLARE
    is_durable boolean;
BEGIN
    IF w.durable_slots IS NULL THEN
        RETURN hatchnb.worker_slots_used(w.id) + c.slot_cost <= w.slots;
    END IF;
    is_durable := hatchnb.is_durable_task(c.version_id, c.task_name);
    RETURN hatchnb.worker_pool_slots_used(w.id, is_durable) + c.slot_cost
           <= CASE WHEN is_durable THEN w.durable_slots ELSE w.slots END;
END;
$$;

-- may_claim of 0004, asking worker_has_room where it asked worker_slots_used (dropped and
-- created again: its callers are PL/pgSQL bodies, which look it up when they run).
DROP FUNCTION hatchnb.may_claim(hatchnb.task_runs, uuid, jsonb, interval);
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
        SELECT w.status = 'ACTIVE' AND hatchnb.worker_has_room(w, c)
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
               AND hatchnb.worker_has_room(w, c);
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
