-- Task run external ids (hatchet_sdk's task run id, runs.get_task_run): a task run's public
-- id is derived from its run id and task name, never stored. Deriving it here as well lets a
-- task run be found by it through an expression index. It is the RFC 9562 name-based UUID
-- (version 3, MD5) of the task name in the run id's namespace, as Python's
-- uuid.uuid3(run_id, task_name) computes it (ids.task_run_external_id): PostgreSQL has md5()
-- built in, while version 5's SHA-1 would need the pgcrypto extension.
CREATE FUNCTION hatchnb.task_external_id(p_run_id uuid, p_task_name text) RETURNS uuid
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT (substr(h, 1, 12) || '3' || substr(h, 14, 3)
            || to_hex((('x' || substr(h, 17, 1))::bit(4)::integer & 3) | 8)
            || substr(h, 18))::uuid
      FROM md5(uuid_send(p_run_id) || convert_to(p_task_name, 'UTF8')) AS h
$$;

CREATE INDEX task_runs_external_id
    ON hatchnb.task_runs (hatchnb.task_external_id(run_id, task_name));
