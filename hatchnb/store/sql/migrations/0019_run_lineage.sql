-- Run lineage (runs.fork, issue 18): a forked run names the run and task it was forked
-- from; its task runs copied from that run (not executed again) name the task run whose
-- output they reuse. No foreign keys: retention may prune a source before its forks.
ALTER TABLE hatchnb.workflow_runs ADD COLUMN forked_from uuid, ADD COLUMN forked_at_task text;
ALTER TABLE hatchnb.task_runs ADD COLUMN reused_from bigint;
CREATE INDEX workflow_runs_forked_from
    ON hatchnb.workflow_runs (forked_from) WHERE forked_from IS NOT NULL;
