-- name: worker_running_task_runs
-- The task runs the database believes this worker is running (compared after an outage).
SELECT id, attempt FROM hatchnb.task_runs WHERE worker_id = %(worker_id)s AND status = 'RUNNING';
