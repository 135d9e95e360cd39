-- The statements that start and finish task runs find their rows by id, and their plans are
-- generic, made once per session (0002, 0027) and kept until the tables are analyzed again.
-- A worker that made them while workflow_runs was small (started on an empty database, the
-- usual first run) kept a sequential scan of workflow_runs in four of them, read at every
-- claim and every finish however large the table grew: 30,000 no-op tasks drained at
-- 2,834/s instead of ~4,700, the start UPDATE costing 72 instead of 32 us per task and the
-- run lock 36 instead of 2.5 (issue 15). With sequential scans ruled out the plans stay
-- index lookups at any size; the tables these functions scan without an index are tiny.
ALTER FUNCTION hatchnb.start_task_runs(uuid, bigint[]) SET enable_seqscan = off;
ALTER FUNCTION hatchnb.finish_task_runs(bigint[], integer[], text[], jsonb[], bytea[], text[])
    SET enable_seqscan = off;
