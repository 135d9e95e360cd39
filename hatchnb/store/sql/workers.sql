-- What a worker does: register and heartbeat, claim, finish, logs, streams, labels.

-- name: claim_task_runs
-- Take up to `slots` slots' worth of queued task runs (see hatchnb.claim_task_runs) of the
-- worker's workflows that are not paused.
SELECT * FROM hatchnb.claim_task_runs(%(worker_id)s, %(limit)s,
                                      hatchnb.claimable_workflows(%(workflows)s::text[]),
                                      %(python)s);

-- name: claim_pooled_task_runs
-- claim_task_runs for a worker with a separate pool of durable slots: up to `limit` slots'
-- worth of other task runs and `durable_limit` of durable ones (see
-- hatchnb.claim_pooled_task_runs).
SELECT * FROM hatchnb.claim_pooled_task_runs(%(worker_id)s, %(limit)s, %(durable_limit)s,
                                             hatchnb.claimable_workflows(%(workflows)s::text[]),
                                             %(python)s);

-- name: claim_task_batches
-- Take up to `limit` whole batches of batch tasks (see hatchnb.claim_task_batches), of the
-- worker's workflows that are not paused; a row with a NULL id says when the next partial
-- batch comes due (due_in: seconds from now).
SELECT b.*, extract(epoch FROM b.next_due - now()) AS due_in
  FROM hatchnb.claim_task_batches(%(worker_id)s, %(limit)s,
                                  hatchnb.claimable_workflows(%(workflows)s::text[]),
                                  %(python)s) b;

-- name: finish_task_runs
-- Apply a batch of results (see hatchnb.finish_task_runs in the migrations).
SELECT hatchnb.finish_task_runs(%(ids)s::bigint[], %(attempts)s::int[], %(outcomes)s::text[],
                                %(outputs)s::jsonb[], %(blobs)s::bytea[], %(errors)s::text[])
       AS applied;

-- name: finish_and_claim
-- Apply a batch of results, then claim, in one round trip (see hatchnb.finish_and_claim).
SELECT * FROM hatchnb.finish_and_claim(%(ids)s::bigint[], %(attempts)s::int[],
                                       %(outcomes)s::text[], %(outputs)s::jsonb[],
                                       %(blobs)s::bytea[], %(errors)s::text[], %(worker_id)s,
                                       %(limit)s,
                                       hatchnb.claimable_workflows(%(workflows)s::text[]),
                                       %(python)s);

-- name: finish_and_claim_pooled
-- finish_and_claim for a worker with a separate pool of durable slots.
SELECT * FROM hatchnb.finish_and_claim_pooled(%(ids)s::bigint[], %(attempts)s::int[],
                                              %(outcomes)s::text[], %(outputs)s::jsonb[],
                                              %(blobs)s::bytea[], %(errors)s::text[],
                                              %(worker_id)s, %(limit)s, %(durable_limit)s,
                                              hatchnb.claimable_workflows(%(workflows)s::text[]),
                                              %(python)s);

-- name: insert_logs
-- Append log lines of task runs.
INSERT INTO hatchnb.task_logs (task_run_id, attempt, level, message, created_at)
SELECT * FROM unnest(%(task_run_ids)s::bigint[], %(attempts)s::int[], %(levels)s::text[],
                     %(messages)s::text[], %(created)s::timestamptz[]);

-- name: register_worker
-- Announce a worker process.
INSERT INTO hatchnb.workers (id, name, slots, durable_slots, labels, workflows,
                             python_version, hostname, pid)
VALUES (%(id)s, %(name)s, %(slots)s, %(durable_slots)s, %(labels)s, %(workflows)s,
        %(python_version)s, %(hostname)s, %(pid)s);

-- name: heartbeat_worker
-- Keep a worker alive; returns its status (DEAD when the engine gave up on it).
UPDATE hatchnb.workers SET last_heartbeat_at = now(),
       status = CASE WHEN status = 'DEAD' THEN 'ACTIVE' ELSE status END
 WHERE id = %(id)s
RETURNING (SELECT status FROM hatchnb.workers WHERE id = %(id)s) AS previous_status;

-- name: set_worker_paused
-- Pause (stop claiming) or resume a running worker; returns it, or nothing when it is not
-- running (stopped or dead workers stay as they are).
UPDATE hatchnb.workers
   SET status = CASE WHEN %(paused)s THEN 'PAUSED' ELSE 'ACTIVE' END
 WHERE id = %(id)s AND status IN ('ACTIVE', 'PAUSED')
RETURNING id;

-- name: stop_worker
-- Mark a worker as stopped after a graceful shutdown.
UPDATE hatchnb.workers SET status = 'STOPPED', last_heartbeat_at = now() WHERE id = %(id)s;

-- name: hand_back_task_runs
-- Put running task runs of a stopping worker back in the queue (not counted as a retry).
UPDATE hatchnb.task_runs
   SET status = 'QUEUED', worker_id = NULL, timeout_at = NULL, queued_at = now(),
       available_at = now()
 WHERE id = ANY (%(ids)s) AND worker_id = %(worker_id)s AND status = 'RUNNING'
RETURNING id;

-- name: worker_running_task_runs
-- The task runs the database believes this worker is running (compared after an outage).
SELECT id, attempt FROM hatchnb.task_runs WHERE worker_id = %(worker_id)s AND status = 'RUNNING';

-- name: refresh_timeout
-- Push a running task's execution deadline further out.
UPDATE hatchnb.task_runs SET timeout_at = timeout_at + %(increment)s::interval
 WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'RUNNING'
RETURNING timeout_at;

-- name: list_workers
-- Registered workers, most recent first.
SELECT id, name, slots, labels, workflows, python_version, hostname, pid, status, started_at,
       last_heartbeat_at,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.worker_id = w.id AND t.status = 'RUNNING') AS running
  FROM hatchnb.workers w ORDER BY started_at DESC LIMIT %(limit)s;

-- name: get_worker
-- One registered worker by id (list_workers' columns).
SELECT id, name, slots, labels, workflows, python_version, hostname, pid, status, started_at,
       last_heartbeat_at,
       (SELECT count(*) FROM hatchnb.task_runs t
         WHERE t.worker_id = w.id AND t.status = 'RUNNING') AS running
  FROM hatchnb.workers w WHERE id = %(id)s;

-- name: running_task_runs
-- Task runs running on workers, oldest first.
SELECT worker_id, run_id, task_name, attempt, started_at
  FROM hatchnb.task_runs WHERE status = 'RUNNING' ORDER BY started_at LIMIT %(limit)s;

-- name: put_stream_chunk
-- Append a chunk to a run's stream and wake its subscribers.
WITH chunk AS (
    INSERT INTO hatchnb.stream_chunks (run_id, task_run_id, data)
    VALUES (%(run_id)s, %(task_run_id)s, %(data)s) RETURNING run_id
)
SELECT pg_notify('hatchnb_stream', run_id::text) FROM chunk;

-- name: release_slot
-- ctx.release_slot(): the task keeps running but no longer counts against its worker.
UPDATE hatchnb.task_runs SET slot_released = true
 WHERE id = %(id)s AND attempt = %(attempt)s AND status = 'RUNNING';

-- name: update_worker_labels
-- Merge labels into a worker's labels (used by the next assignment).
UPDATE hatchnb.workers SET labels = labels || %(labels)s::jsonb WHERE id = %(id)s
RETURNING labels;

-- name: save_task_notebook
-- Store the executed notebook of a notebook task run attempt.
INSERT INTO hatchnb.task_notebooks (task_run_id, attempt, run_id, task_name, notebook, failed)
VALUES (%(task_run_id)s, %(attempt)s, %(run_id)s, %(task_name)s, %(notebook)s, %(failed)s)
ON CONFLICT (task_run_id, attempt) DO UPDATE
   SET notebook = EXCLUDED.notebook, failed = EXCLUDED.failed, created_at = now();
