-- Idempotency keys of triggers (hatchnb/idempotency.py, issue 17): the run holding each
-- key of a workflow, until expires_at (TTL) or, for STATUS keys, until that run finishes.
CREATE TABLE hatchnb.idempotency_keys (
    workflow_name text NOT NULL,
    key text NOT NULL,
    run_id uuid NOT NULL,
    method text NOT NULL CHECK (method IN ('TTL', 'STATUS')),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (workflow_name, key)
);
CREATE INDEX idempotency_keys_expiry ON hatchnb.idempotency_keys (expires_at);
