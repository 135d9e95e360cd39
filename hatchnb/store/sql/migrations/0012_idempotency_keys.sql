-- Idempotency keys of triggers (hatchnb/idempotency.py, issue 17): the run holding each
-- key until expires_at (TTL) or, for STATUS keys, until that run finishes. As in Hatchet a
-- key is one for the whole database: two workflows computing the same key share it.
CREATE TABLE hatchnb.idempotency_keys (
    key text PRIMARY KEY,
    workflow_name text NOT NULL,
    run_id uuid NOT NULL,
    method text NOT NULL CHECK (method IN ('TTL', 'STATUS')),
    expires_at timestamptz NOT NULL
);
CREATE INDEX idempotency_keys_expiry ON hatchnb.idempotency_keys (expires_at);
