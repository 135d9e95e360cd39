-- Durable task runs: the append-only event log that a durable task replays. A durable task
-- run evicted during a long wait is re-queued by hatchnb.finish_task_runs (outcome EVICTED,
-- 0002_state_machine.sql) until its wake-up time, or until a pushed event it waits for
-- arrives (the wake_event_waiters query of sql/durable.sql).
CREATE TABLE hatchnb.durable_events (
    task_run_id bigint NOT NULL,
    seq integer NOT NULL,
    kind text NOT NULL,
    -- what the code asked for at this position; a replay asking for something else is
    -- a non-determinism error
    request text NOT NULL,
    wake_at timestamptz,
    event_key text,
    expression text,
    since timestamptz,
    result jsonb,
    done boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_run_id, seq)
);
CREATE INDEX durable_events_waiting ON hatchnb.durable_events (task_run_id)
    WHERE NOT done AND event_key IS NOT NULL;
