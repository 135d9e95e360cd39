-- Observability and housekeeping: the attempt history behind the dashboard's timelines and
-- metrics, failure alerts (settings, rate-limit windows, delivery outbox), and retention
-- (finished runs and what is stored per run are deleted after HATCHNB_RETENTION, in small
-- batches walked in index order; the indexes are with their tables).

-- ---- attempt history ---------------------------------------------------------------------

-- One row per finished attempt of a task run, written by a trigger when a RUNNING task run
-- leaves RUNNING (done, retried, timed out, handed back, re-queued from a dead worker).
CREATE TABLE hatchnb.task_attempts (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_run_id bigint NOT NULL,
    run_id uuid NOT NULL,
    workflow_name text NOT NULL,
    task_name text NOT NULL,
    attempt integer NOT NULL,
    worker_id uuid,
    -- the status the task run went to: SUCCEEDED, FAILED, QUEUED (retry, hand-back) ...
    outcome text NOT NULL,
    error text,
    queued_at timestamptz,
    started_at timestamptz,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX task_attempts_run ON hatchnb.task_attempts (run_id, id);
CREATE INDEX task_attempts_finished ON hatchnb.task_attempts (finished_at);

CREATE FUNCTION hatchnb.record_task_attempt() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO hatchnb.task_attempts (task_run_id, run_id, workflow_name, task_name, attempt,
                                       worker_id, outcome, error, queued_at, started_at)
    VALUES (OLD.id, OLD.run_id, OLD.workflow_name, OLD.task_name, OLD.attempt, OLD.worker_id,
            NEW.status, NEW.error, OLD.queued_at, OLD.started_at);
    RETURN NULL;
END;
$$;

-- the WHEN clause is evaluated without calling the function, so claims and other updates
-- cost nothing extra
CREATE TRIGGER task_runs_attempt_done
    AFTER UPDATE ON hatchnb.task_runs
    FOR EACH ROW
    WHEN (OLD.status = 'RUNNING' AND (NEW.status <> 'RUNNING' OR NEW.attempt <> OLD.attempt))
    EXECUTE FUNCTION hatchnb.record_task_attempt();

-- ---- alerts ------------------------------------------------------------------------------

-- Alert settings: one row. Channels are optional; an alert goes to every configured one.
CREATE TABLE hatchnb.alert_settings (
    id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    slack_webhook_url text,
    -- {"host", "port", "sender", "recipients": [...], "username", "password", "starttls"}
    email jsonb,
    on_failure boolean NOT NULL DEFAULT true,
    on_schedule_timeout boolean NOT NULL DEFAULT true,
    -- one alert per workflow per window; later failures in the window go into a digest
    window_seconds integer NOT NULL DEFAULT 300,
    -- failures before this moment are never alerted (set when alerts are first configured)
    since timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Failed runs already turned into an alert (or counted in a digest); pruned after two days.
CREATE TABLE hatchnb.alerted_runs (
    run_id uuid PRIMARY KEY,
    alerted_at timestamptz NOT NULL DEFAULT now()
);

-- The rate-limit window of each workflow: when its last alert went out and how many failures
-- were held back since.
CREATE TABLE hatchnb.alert_windows (
    workflow_name text PRIMARY KEY,
    opened_at timestamptz NOT NULL,
    held_back integer NOT NULL DEFAULT 0,
    held_kinds text[] NOT NULL DEFAULT '{}'
);

-- Outbox: every message to send, one row per channel, with its delivery state.
CREATE TABLE hatchnb.alert_deliveries (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- failure, schedule_timeout, digest or test
    kind text NOT NULL,
    channel text NOT NULL,
    workflow_name text,
    run_id uuid,
    subject text NOT NULL,
    body text NOT NULL,
    -- PENDING, SENT or ERROR (ERROR rows are retried until attempts reach the limit)
    status text NOT NULL DEFAULT 'PENDING',
    attempts integer NOT NULL DEFAULT 0,
    last_error text,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
);
CREATE INDEX alert_deliveries_due ON hatchnb.alert_deliveries (next_attempt_at)
    WHERE status <> 'SENT';
CREATE INDEX alert_deliveries_created ON hatchnb.alert_deliveries (created_at DESC);

-- ---- retention ---------------------------------------------------------------------------

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
