-- The HTTP API's tokens and the runs started through it (0017_api_tokens.sql).

-- name: create_api_token
-- A new token; returns nothing when a live token already has this name.
INSERT INTO hatchnb.api_tokens (name, scope, token_hash, expires_at)
VALUES (%(name)s, %(scope)s, %(token_hash)s, %(expires_at)s)
ON CONFLICT (name) WHERE revoked_at IS NULL DO NOTHING
RETURNING id, name, scope, created_at, expires_at, revoked_at, last_used_at;

-- name: list_api_tokens
-- Every token (no hashes), newest first; revoked ones too.
SELECT id, name, scope, created_at, expires_at, revoked_at, last_used_at
  FROM hatchnb.api_tokens ORDER BY id DESC;

-- name: revoke_api_token
-- Revoke the live token with this name; returns it, or nothing when there is none.
UPDATE hatchnb.api_tokens SET revoked_at = now()
 WHERE name = %(name)s AND revoked_at IS NULL
RETURNING id, name, scope, created_at, expires_at, revoked_at, last_used_at;

-- name: use_api_token
-- The live, unexpired token with this hash, its last use noted (at most once a minute, so
-- a busy client does not rewrite the row on every call).
UPDATE hatchnb.api_tokens SET last_used_at = now()
 WHERE token_hash = %(token_hash)s AND revoked_at IS NULL
   AND (expires_at IS NULL OR expires_at > now())
   AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
RETURNING id, name, scope, created_at, expires_at, revoked_at, last_used_at;

-- name: find_api_token
-- The live, unexpired token with this hash (when use_api_token changed nothing).
SELECT id, name, scope, created_at, expires_at, revoked_at, last_used_at
  FROM hatchnb.api_tokens
 WHERE token_hash = %(token_hash)s AND revoked_at IS NULL
   AND (expires_at IS NULL OR expires_at > now());

-- name: forget_expired_trigger_key
-- An idempotency key is held for a day; after that the same key starts a new run.
DELETE FROM hatchnb.api_triggers
 WHERE coalesce(token_id, 0) = coalesce(%(token_id)s, 0)
   AND idempotency_key = %(idempotency_key)s
   AND created_at < now() - interval '24 hours';

-- name: claim_trigger_key
-- Take an idempotency key for a run about to be started; nothing when it is held.
INSERT INTO hatchnb.api_triggers (token_id, idempotency_key)
VALUES (%(token_id)s, %(idempotency_key)s)
ON CONFLICT (coalesce(token_id, 0), idempotency_key) WHERE idempotency_key IS NOT NULL
DO NOTHING
RETURNING id;

-- name: trigger_key_holder
-- The run holding an idempotency key (run_id NULL: its run is being started right now).
SELECT run_id FROM hatchnb.api_triggers
 WHERE coalesce(token_id, 0) = coalesce(%(token_id)s, 0)
   AND idempotency_key = %(idempotency_key)s;

-- name: release_trigger_key
-- The run of a claimed key could not be started: free the key.
DELETE FROM hatchnb.api_triggers WHERE id = %(id)s AND run_id IS NULL;

-- name: set_trigger_run
-- The run a claimed key started.
UPDATE hatchnb.api_triggers SET run_id = %(run_id)s WHERE id = %(id)s;

-- name: record_trigger
-- A run started over HTTP without an idempotency key.
INSERT INTO hatchnb.api_triggers (token_id, run_id) VALUES (%(token_id)s, %(run_id)s);

-- name: started_by_token
-- Whether this token started this run.
SELECT EXISTS (
    SELECT 1 FROM hatchnb.api_triggers WHERE token_id = %(token_id)s AND run_id = %(run_id)s
) AS started;
