-- Paused workflows (hatchet.workflows.pause, issue 17): their queued task runs stay queued
-- (workers do not claim them) until unpaused or until queue_ttl after they were queued or
-- the pause began, whichever is later; then the engine cancels their runs. Crons and
-- schedules firing meanwhile either queue a run (QUEUE) or start none (DROP).
CREATE TABLE hatchnb.workflow_pauses (
    workflow_name text PRIMARY KEY,
    queue_ttl interval NOT NULL CHECK (queue_ttl > interval '0'),
    cron_behavior text NOT NULL CHECK (cron_behavior IN ('DROP', 'QUEUE')),
    scheduled_behavior text NOT NULL CHECK (scheduled_behavior IN ('DROP', 'QUEUE')),
    paused_at timestamptz NOT NULL DEFAULT now()
);

-- The workflows a worker serving p_workflows (NULL: every workflow) may claim now.
CREATE FUNCTION hatchnb.claimable_workflows(p_workflows text[]) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN NOT EXISTS (SELECT 1 FROM hatchnb.workflow_pauses) THEN p_workflows
        WHEN p_workflows IS NULL THEN
            ARRAY(SELECT workflow_name FROM hatchnb.workflow_triggers
                  EXCEPT SELECT workflow_name FROM hatchnb.workflow_pauses)
        ELSE ARRAY(SELECT w FROM unnest(p_workflows) AS w
                    WHERE NOT EXISTS (SELECT 1 FROM hatchnb.workflow_pauses p
                                       WHERE p.workflow_name = w))
    END
$$;
