-- The HTTP API's bearer tokens and the runs started through it (hatchnb/api, issue 16).

-- A token is shown once when created; only its SHA-256 is kept (tokens are 256 random
-- bits, so a fast hash is enough: there is nothing to guess from it).
CREATE TABLE hatchnb.api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL,
    scope text NOT NULL CHECK (scope IN ('read', 'trigger', 'admin')),
    token_hash text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz
);
-- one live token per name (a revoked name may be used again)
CREATE UNIQUE INDEX api_tokens_live_name ON hatchnb.api_tokens (name) WHERE revoked_at IS NULL;

-- Runs started over HTTP: which token started each (a trigger token reads only its own
-- runs) and the caller's idempotency key, held for 24 hours. run_id is NULL while the run
-- of a claimed key is being created. A row goes with its run when retention deletes it.
CREATE TABLE hatchnb.api_triggers (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id bigint REFERENCES hatchnb.api_tokens (id) ON DELETE CASCADE,
    idempotency_key text,
    run_id uuid REFERENCES hatchnb.workflow_runs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX api_triggers_key
    ON hatchnb.api_triggers (coalesce(token_id, 0), idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX api_triggers_run ON hatchnb.api_triggers (run_id);
