-- Debounced triggers (hatchnb/debounce.py, issue 17): the run still waiting for each
-- debounce key of a workflow; a trigger with the key gives that run its input and pushes
-- its start back by the window, until a worker has started it.
CREATE TABLE hatchnb.debounce_keys (
    workflow_name text NOT NULL,
    key text NOT NULL,
    run_id uuid NOT NULL,
    PRIMARY KEY (workflow_name, key)
);
