-- hatchnb schema, version 11: why a cron tick or a one-off schedule started no run.
-- The engine fires each due cron and schedule on its own savepoint; one that cannot start
-- its run (its concurrency key fails on the stored input, its workflow is not registered)
-- no longer blocks the others. A cron keeps its schedule and shows the error of its latest
-- tick (cleared by the next tick that starts a run); a schedule fails for good.
ALTER TABLE hatchnb.crons ADD COLUMN last_error text;
ALTER TABLE hatchnb.scheduled_runs ADD COLUMN error text;
