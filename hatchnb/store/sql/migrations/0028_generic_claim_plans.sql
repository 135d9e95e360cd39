-- The claim's candidate scan is planned once per session (issue 15). plpgsql kept planning
-- it at every call, because the generic plan's estimate looked worse than the custom plans':
-- 128 us of planning per claim at 10 slots and about 200 us per claim of one (more than the
-- claim itself). A generic plan is made once; enable_sort = off keeps it walking the queue
-- index (task_runs_queue, already in claim order) even while task_runs has no statistics,
-- where the generic plan otherwise sorted the whole backlog (215 ms per claim with 200,000
-- queued). The setting holds for the whole call (start_task_runs and may_claim too); their
-- statements are keyed by ids, where a sort is never the only cheap plan.
ALTER FUNCTION hatchnb.claim_task_runs(uuid, integer, text[], text, interval)
    SET plan_cache_mode = force_generic_plan SET enable_sort = off;
ALTER FUNCTION hatchnb.claim_pooled_task_runs(uuid, integer, integer, text[], text, interval)
    SET plan_cache_mode = force_generic_plan SET enable_sort = off;
