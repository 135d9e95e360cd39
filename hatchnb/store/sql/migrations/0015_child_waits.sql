-- Durable task runs evicted while waiting for their children: the engine wakes each one when
-- a child of it finishes after the wait began (wake_child_waiters in sql/engine.sql); a row
-- goes when its task run is woken or has finished.
CREATE TABLE hatchnb.child_waits (
    task_run_id bigint PRIMARY KEY REFERENCES hatchnb.task_runs (id) ON DELETE CASCADE,
    since timestamptz NOT NULL
);
