-- What starts runs besides a direct call: the events each workflow listens to, crons,
-- one-off schedules, pushed events and CEL event filters. A run records what started it in
-- workflow_runs.triggered_by / event_id / filter_payload (0001_core.sql).

-- What the newest registration of each workflow listens to.
CREATE TABLE hatchnb.workflow_triggers (
    workflow_name text PRIMARY KEY,
    version_id bigint NOT NULL,
    on_events text[] NOT NULL DEFAULT '{}',
    default_priority smallint NOT NULL DEFAULT 1,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE hatchnb.crons (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    name text NOT NULL,
    expression text NOT NULL,
    timezone text NOT NULL DEFAULT 'UTC',
    input jsonb NOT NULL DEFAULT '{}',
    additional_metadata jsonb NOT NULL DEFAULT '{}',
    priority smallint,
    -- declared with on_crons=[...] (replaced at each registration) or made by create_cron
    declared boolean NOT NULL DEFAULT false,
    next_fire_at timestamptz NOT NULL,
    last_fired_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- why the latest tick started no run (the engine fires each due cron on a savepoint of
    -- its own; a failing one keeps its schedule); cleared by the next tick that starts a run
    last_error text,
    UNIQUE (workflow_name, name)
);
CREATE INDEX crons_due ON hatchnb.crons (next_fire_at);

CREATE TABLE hatchnb.scheduled_runs (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    run_at timestamptz NOT NULL,
    input jsonb NOT NULL DEFAULT '{}',
    additional_metadata jsonb NOT NULL DEFAULT '{}',
    priority smallint,
    run_id uuid,
    created_at timestamptz NOT NULL DEFAULT now(),
    -- why the schedule started no run (its concurrency key failed on the stored input, its
    -- workflow is not registered): it is not due again until trigger_now retries it
    error text
);
CREATE INDEX scheduled_runs_due ON hatchnb.scheduled_runs (run_at) WHERE run_id IS NULL;

CREATE TABLE hatchnb.events (
    id uuid PRIMARY KEY,
    key text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    additional_metadata jsonb NOT NULL DEFAULT '{}',
    priority smallint,
    scope text,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_key_created ON hatchnb.events (key, created_at DESC);
-- retention deletes old events in created_at order
CREATE INDEX events_created ON hatchnb.events (created_at);

CREATE TABLE hatchnb.filters (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    expression text NOT NULL,
    scope text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filters_workflow_scope ON hatchnb.filters (workflow_name, scope);
