-- hatchnb schema, version 9: retention. Finished runs and what is stored per run are
-- deleted after HATCHNB_RETENTION, in small batches walked in index order.

-- Prunable runs are found oldest-finished first; only terminal runs are ever candidates.
CREATE INDEX workflow_runs_terminal_finished ON hatchnb.workflow_runs (finished_at)
    WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
CREATE INDEX events_created ON hatchnb.events (created_at);

-- A run past retention: terminal, finished before the cutoff, and none of its task runs
-- still unfinished (a replay puts a run back to RUNNING, so this is checked per task too).
CREATE FUNCTION hatchnb.run_expired(r hatchnb.workflow_runs, p_cutoff timestamptz)
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND r.finished_at < p_cutoff
       AND NOT EXISTS (
           SELECT 1 FROM hatchnb.task_runs t
            WHERE t.run_id = r.id
              AND t.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED', 'SKIPPED'))
$$;

-- When retention last ran (the engine leader runs it at most every
-- HATCHNB_RETENTION_INTERVAL, also across leader changes) and what it deleted.
CREATE TABLE hatchnb.retention_state (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    last_started_at timestamptz,
    last_finished_at timestamptz,
    last_counts jsonb
);
INSERT INTO hatchnb.retention_state (id) VALUES (1);
