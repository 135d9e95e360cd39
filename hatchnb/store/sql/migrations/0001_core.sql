-- Core tables: the schema and its migration record, registered workflow versions, workers,
-- workflow runs, task runs, and what task runs leave behind (logs, stream chunks, executed
-- notebooks). The state machine over runs and task runs is 0002_state_machine.sql; the
-- flow-control columns of both tables are read by 0003_concurrency.sql and 0004_routing.sql.
--
-- Status values are text: workflow runs QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELLED; task
-- runs PENDING (parents unfinished), WAITING (conditions), BLOCKED (concurrency), QUEUED,
-- RUNNING, SUCCEEDED, FAILED, CANCELLED, SKIPPED.
CREATE SCHEMA IF NOT EXISTS hatchnb;

CREATE TABLE hatchnb.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now(),
    -- the numbering the version belongs to: 2 is this layout (0001_core ...). A database of
    -- the pre-release chain (0001_initial ... 0011_trigger_errors) has no such column, and
    -- hatchnb.store.migrate asks for it to be recreated.
    baseline integer NOT NULL DEFAULT 2
);

-- Every registered shape of a workflow: its task options (spec) and its pickled code.
CREATE TABLE hatchnb.workflow_versions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workflow_name text NOT NULL,
    content_hash text NOT NULL,
    python_version text NOT NULL,
    spec jsonb NOT NULL,
    code bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- HMAC of the pickled code (HATCHNB_SIGNING_KEY); workers refuse unsigned or altered code
    signature text,
    UNIQUE (workflow_name, content_hash)
);

CREATE TABLE hatchnb.workers (
    id uuid PRIMARY KEY,
    name text NOT NULL,
    slots integer NOT NULL,
    labels jsonb NOT NULL DEFAULT '{}',
    workflows text[],
    python_version text NOT NULL,
    hostname text NOT NULL,
    pid integer NOT NULL,
    status text NOT NULL DEFAULT 'ACTIVE',
    started_at timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hatchnb.workflow_runs (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    version_id bigint NOT NULL,
    status text NOT NULL,
    input jsonb NOT NULL,
    additional_metadata jsonb NOT NULL DEFAULT '{}',
    priority smallint NOT NULL,
    parent_task_run_id bigint,
    child_key text,
    -- tasks not yet final, and how many ended FAILED or CANCELLED: a run whose count
    -- reaches zero with no failure and no hooks is settled without a second look
    pending_tasks integer NOT NULL,
    failed_tasks integer NOT NULL DEFAULT 0,
    has_hooks boolean NOT NULL DEFAULT false,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    -- what started the run ('event:<key>', 'cron:<name>', 'schedule', 'runs.create', ...)
    triggered_by text,
    event_id uuid,
    filter_payload jsonb,
    -- flow control: holds run-scoped concurrency slots (0003_concurrency.sql); sticky
    -- ('SOFT' or 'HARD') and the worker the run sticks to (0004_routing.sql)
    has_concurrency boolean NOT NULL DEFAULT false,
    sticky text,
    sticky_worker_id uuid
);
CREATE UNIQUE INDEX workflow_runs_child_key
    ON hatchnb.workflow_runs (parent_task_run_id, child_key) WHERE child_key IS NOT NULL;
CREATE INDEX workflow_runs_parent
    ON hatchnb.workflow_runs (parent_task_run_id) WHERE parent_task_run_id IS NOT NULL;
CREATE INDEX workflow_runs_created ON hatchnb.workflow_runs (created_at DESC);
CREATE INDEX workflow_runs_event ON hatchnb.workflow_runs (event_id) WHERE event_id IS NOT NULL;
-- failed runs by finishing time (alerts) and runs by workflow (dashboard filters)
CREATE INDEX workflow_runs_failed ON hatchnb.workflow_runs (finished_at) WHERE status = 'FAILED';
CREATE INDEX workflow_runs_workflow_created
    ON hatchnb.workflow_runs (workflow_name, created_at DESC);
-- retention finds prunable runs oldest-finished first; only terminal runs are candidates
CREATE INDEX workflow_runs_terminal_finished ON hatchnb.workflow_runs (finished_at)
    WHERE status IN ('SUCCEEDED', 'FAILED', 'CANCELLED');
-- runs of one status by time: status-filtered pages newest first, and the capped per-status
-- counts of the dashboard (one index range per status, index-only once vacuumed)
CREATE INDEX workflow_runs_status_created
    ON hatchnb.workflow_runs (status, created_at DESC);
-- metadata containment filters (`additional_metadata @> '{"customer": "c7"}'`); the run
-- queries pass NULL, not '{}', when there is no metadata filter, so this is never read for
-- "everything"
CREATE INDEX workflow_runs_metadata
    ON hatchnb.workflow_runs USING gin (additional_metadata jsonb_path_ops);

-- One row per task per run; retries reuse the row (retry_count), every claim bumps attempt.
CREATE TABLE hatchnb.task_runs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- no foreign key: runs and their tasks are always inserted by one statement, and the
    -- per-row key check would cost a third of the enqueue time
    run_id uuid NOT NULL,
    workflow_name text NOT NULL,
    version_id bigint NOT NULL,
    task_name text NOT NULL,
    -- 'task', or a hook: 'on_failure' / 'on_success'
    kind text NOT NULL DEFAULT 'task',
    parents text[] NOT NULL DEFAULT '{}',
    has_children boolean NOT NULL DEFAULT false,
    -- tasks with wait_for / skip_if / cancel_if go WAITING (not QUEUED) when their parents
    -- are done, and the engine decides from ready_at on
    has_conditions boolean NOT NULL DEFAULT false,
    ready_at timestamptz,
    status text NOT NULL,
    pending_parents integer NOT NULL DEFAULT 0,
    priority smallint NOT NULL,
    retries integer NOT NULL DEFAULT 0,
    retry_count integer NOT NULL DEFAULT 0,
    attempt integer NOT NULL DEFAULT 0,
    backoff_factor double precision,
    backoff_max_seconds integer,
    schedule_timeout interval NOT NULL,
    execution_timeout interval NOT NULL,
    available_at timestamptz NOT NULL DEFAULT now(),
    queued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz,
    timeout_at timestamptz,
    worker_id uuid,
    output jsonb,
    output_blob bytea,
    error text,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- flow control (0003_concurrency.sql, 0004_routing.sql) --
    -- concurrency slots to hold: [{slot, scope, max_runs, strategy, ...}], evaluated from CEL
    -- when the run is triggered
    concurrency jsonb,
    -- while BLOCKED: the slot this task run waits for
    wait_key text,
    -- [{key, units}] consumed when a worker claims the task run
    rate_limits jsonb,
    slot_cost integer NOT NULL DEFAULT 1,
    -- ctx.release_slot() was called: the worker's slots are free again
    slot_released boolean NOT NULL DEFAULT false,
    -- {label: {value, required, weight, comparator}}
    desired_labels jsonb,
    -- anything the claim must check besides the queue order (labels, sticky, rate limits,
    -- slot cost); the fast path skips all of it for plain task runs
    routed boolean NOT NULL DEFAULT false,
    UNIQUE (run_id, task_name)
);
-- a queue table churns: keep its statistics and dead rows under control
ALTER TABLE hatchnb.task_runs SET (autovacuum_analyze_scale_factor = 0.02,
                                   autovacuum_vacuum_scale_factor = 0.05);
CREATE INDEX task_runs_queue ON hatchnb.task_runs (priority DESC, id) WHERE status = 'QUEUED';
CREATE INDEX task_runs_running_timeout ON hatchnb.task_runs (timeout_at) WHERE status = 'RUNNING';
CREATE INDEX task_runs_waiting ON hatchnb.task_runs (ready_at) WHERE status = 'WAITING';
CREATE INDEX task_runs_running_worker ON hatchnb.task_runs (worker_id) WHERE status = 'RUNNING';
CREATE INDEX task_runs_blocked ON hatchnb.task_runs (wait_key, priority DESC, id)
    WHERE status = 'BLOCKED';

CREATE TABLE hatchnb.task_logs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_run_id bigint NOT NULL REFERENCES hatchnb.task_runs (id) ON DELETE CASCADE,
    attempt integer NOT NULL,
    level text NOT NULL,
    message text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_logs_task_run ON hatchnb.task_logs (task_run_id, id);

-- Chunks a task streams with ctx.put_stream, read by runs.subscribe_to_stream.
CREATE TABLE hatchnb.stream_chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id uuid NOT NULL,
    task_run_id bigint NOT NULL,
    data text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_chunks_run ON hatchnb.stream_chunks (run_id, id);

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
