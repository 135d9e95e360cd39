-- Run history (hatchnb.store.history; migrations/0022_run_history.sql): archiving finished
-- run trees into the day-partitioned history tables, restoring them, dropping old days.

-- name: archive_runs_batch
-- Move the expired run trees among the `batch` oldest roots finished after `after` (and
-- before now() - `older_than`) to history, in this statement's own short transaction; the
-- runs and task runs moved, and where the next batch starts (NULL: the pass is done).
SELECT runs, tasks, examined_until, examined_id
  FROM hatchnb.archive_runs(now() - %(older_than)s::interval, %(batch)s,
                            %(after)s::timestamptz, %(after_id)s::uuid);

-- name: restore_runs
-- Move the archived trees of these runs back to the hot tables (in the caller's transaction).
SELECT hatchnb.restore_runs(%(ids)s::uuid[]) AS restored;

-- name: create_history_partitions
-- The history partitions of today and `days_ahead` days after (UTC); how many were created.
SELECT hatchnb.create_history_partitions(
           (now() AT TIME ZONE 'UTC')::date,
           (now() AT TIME ZONE 'UTC')::date + %(days_ahead)s::int) AS created;

-- name: history_days
-- The UTC days with history partitions, oldest first.
SELECT DISTINCT day FROM hatchnb.history_partitions ORDER BY day;

-- name: expired_history_days
-- The days whose partitions end (next midnight UTC) at or before the cutoff, oldest first.
SELECT DISTINCT day FROM hatchnb.history_partitions
 WHERE (day + 1)::timestamp AT TIME ZONE 'UTC' <= %(cutoff)s
 ORDER BY day;

-- name: drop_history_day
-- Drop one day's partitions (or only count them, with dry_run); rows per table.
SELECT hatchnb.drop_history_day(%(day)s, %(dry_run)s) AS counts;

-- name: prune_history_default_batch
-- Delete up to `batch` expired rows per table from the default partitions (or count them all,
-- with dry_run); rows per table.
SELECT hatchnb.prune_history_default(%(cutoff)s, %(batch)s, %(dry_run)s) AS counts;
