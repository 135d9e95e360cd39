-- hatchnb schema, version 2: crons, one-off schedules, events, event filters, streams.

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
    created_at timestamptz NOT NULL DEFAULT now()
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

CREATE TABLE hatchnb.filters (
    id uuid PRIMARY KEY,
    workflow_name text NOT NULL,
    expression text NOT NULL,
    scope text NOT NULL,
    payload jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX filters_workflow_scope ON hatchnb.filters (workflow_name, scope);

-- Runs remember what started them.
ALTER TABLE hatchnb.workflow_runs
    ADD COLUMN triggered_by text,
    ADD COLUMN event_id uuid,
    ADD COLUMN filter_payload jsonb;
CREATE INDEX workflow_runs_event ON hatchnb.workflow_runs (event_id) WHERE event_id IS NOT NULL;

-- Chunks a task streams with ctx.put_stream, read by runs.subscribe_to_stream.
CREATE TABLE hatchnb.stream_chunks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id uuid NOT NULL,
    task_run_id bigint NOT NULL,
    data text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stream_chunks_run ON hatchnb.stream_chunks (run_id, id);
