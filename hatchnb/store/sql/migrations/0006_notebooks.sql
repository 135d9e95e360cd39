-- Executed notebooks of notebook tasks (papermill), one per task run attempt, kept also
-- when the notebook failed so the failing cell can be read.

CREATE TABLE hatchnb.task_notebooks (
    task_run_id bigint NOT NULL,
    attempt integer NOT NULL,
    -- the run and task name, so a run's notebooks are found without joining task_runs
    run_id uuid NOT NULL,
    task_name text NOT NULL,
    -- nbformat JSON, as written by nbformat.writes()
    notebook bytea NOT NULL,
    failed boolean NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_run_id, attempt)
);

CREATE INDEX task_notebooks_run ON hatchnb.task_notebooks (run_id, task_name);
