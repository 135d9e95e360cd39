-- Run history (issue 20): finished run trees move out of the hot tables into tables
-- partitioned by day, so the hot tables (queue, dashboard's newest runs) stay small however
-- much history is kept, and retention drops whole days instead of deleting rows.
--
-- Each hot table T (workflow_runs, task_runs and what is stored per run) has a twin
-- T_history: T's columns in T's order, then history_at (when the run tree finished: the
-- partition key, the same for every row of one tree so a tree is dropped whole), and for
-- workflow_runs_history also history_root (the tree's root run). Reads go through the view
-- T_all (T UNION ALL T_history, T's columns). A migration that adds a column to T must add
-- it to T_history and recreate T_all.
--
-- Partitions are daily on UTC days, named T_history_pYYYYMMDD; the engine leader creates
-- them a few days ahead (hatchnb.create_history_partitions) and the archive creates a
-- missing past day itself; T_history_default catches anything else and is pruned row by row.

DO $$
DECLARE
    t text;
    cols text;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflow_runs', 'task_runs', 'task_logs', 'task_attempts',
                             'stream_chunks', 'durable_events', 'task_notebooks'] LOOP
        EXECUTE format(
            'CREATE TABLE hatchnb.%I (LIKE hatchnb.%I INCLUDING DEFAULTS,'
            ' history_at timestamptz NOT NULL%s) PARTITION BY RANGE (history_at)',
            t || '_history', t,
            CASE WHEN t = 'workflow_runs' THEN ', history_root uuid NOT NULL' ELSE '' END);
        EXECUTE format('CREATE TABLE hatchnb.%I PARTITION OF hatchnb.%I DEFAULT',
                       t || '_history_default', t || '_history');
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute
         WHERE attrelid = format('hatchnb.%I', t)::regclass AND attnum > 0 AND NOT attisdropped;
        -- workflow_runs_all also shows history_at, 'infinity' for a hot run: the run lists
        -- filter `history_at >= since` besides `created_at >= since` (a run's tree finishes
        -- after the run was created), which skips the older partitions and is always true
        -- of a hot run
        EXECUTE format('CREATE VIEW hatchnb.%I AS SELECT %s%s FROM hatchnb.%I'
                       ' UNION ALL SELECT %s%s FROM hatchnb.%I',
                       t || '_all',
                       cols, CASE WHEN t = 'workflow_runs'
                                  THEN ', timestamptz ''infinity'' AS history_at' ELSE '' END, t,
                       cols, CASE WHEN t = 'workflow_runs' THEN ', history_at' ELSE '' END,
                       t || '_history');
    END LOOP;
END $$;

-- the reads the hot tables serve by index, on history too (partitioned indexes)
CREATE INDEX workflow_runs_history_id ON hatchnb.workflow_runs_history (id);
CREATE INDEX workflow_runs_history_root ON hatchnb.workflow_runs_history (history_root);
-- the run lists filter history_at besides created_at (see workflow_runs_all): with it in
-- the index, capped counts stay index-only
CREATE INDEX workflow_runs_history_created
    ON hatchnb.workflow_runs_history (created_at DESC) INCLUDE (history_at);
CREATE INDEX workflow_runs_history_status_created
    ON hatchnb.workflow_runs_history (status, created_at DESC) INCLUDE (history_at);
CREATE INDEX workflow_runs_history_workflow_created
    ON hatchnb.workflow_runs_history (workflow_name, created_at DESC) INCLUDE (history_at);
-- the per-status counts of a workflow filter (run_status_counts_of_workflows)
CREATE INDEX workflow_runs_history_workflow_status_created
    ON hatchnb.workflow_runs_history (workflow_name, status, created_at DESC)
    INCLUDE (history_at);
CREATE INDEX workflow_runs_history_parent
    ON hatchnb.workflow_runs_history (parent_task_run_id) WHERE parent_task_run_id IS NOT NULL;
CREATE INDEX workflow_runs_history_event
    ON hatchnb.workflow_runs_history (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX workflow_runs_history_forked_from
    ON hatchnb.workflow_runs_history (forked_from) WHERE forked_from IS NOT NULL;
CREATE INDEX workflow_runs_history_metadata
    ON hatchnb.workflow_runs_history USING gin (additional_metadata jsonb_path_ops);
CREATE INDEX task_runs_history_run ON hatchnb.task_runs_history (run_id, id);
CREATE INDEX task_runs_history_id ON hatchnb.task_runs_history (id);
CREATE INDEX task_runs_history_worker
    ON hatchnb.task_runs_history (worker_id) WHERE worker_id IS NOT NULL;
CREATE INDEX task_logs_history_task_run ON hatchnb.task_logs_history (task_run_id, id);
CREATE INDEX task_attempts_history_run ON hatchnb.task_attempts_history (run_id, id);
CREATE INDEX task_attempts_history_finished ON hatchnb.task_attempts_history (finished_at);
CREATE INDEX stream_chunks_history_run ON hatchnb.stream_chunks_history (run_id, id);
CREATE INDEX durable_events_history_task_run
    ON hatchnb.durable_events_history (task_run_id, seq);
CREATE INDEX task_notebooks_history_run ON hatchnb.task_notebooks_history (run_id, task_name);
CREATE INDEX task_notebooks_history_task_run
    ON hatchnb.task_notebooks_history (task_run_id, attempt);

-- A trigger token reads the runs it started: its rows must outlive the archive (the foreign
-- key's cascade would delete them when a run leaves workflow_runs); retention deletes them
-- with their runs instead.
ALTER TABLE hatchnb.api_triggers DROP CONSTRAINT api_triggers_run_id_fkey;

CREATE FUNCTION hatchnb.history_tables() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY['workflow_runs', 'task_runs', 'task_logs', 'task_attempts', 'stream_chunks',
                 'durable_events', 'task_notebooks']
$$;

-- Create the partitions of one UTC day for every history table (those missing). A day
-- whose rows already went to the default partition keeps them there (NOTICE): creating the
-- partition would fail on them. Creating a partition locks its parent against every read;
-- behind a long read it gives up after lock_timeout (the next pass tries again) instead of
-- queueing every reader behind it. The timeout stays under PostgreSQL's deadlock_timeout
-- (1 s): a reader of two history tables that meets this function half-way through them is a
-- deadlock, and the DDL side must be the one that gives up, never the reader.
CREATE FUNCTION hatchnb.create_history_partition(p_day date) RETURNS integer
LANGUAGE plpgsql SET lock_timeout = '100ms'
-- the owner's rights: the engine may run as the worker role, which cannot create or drop tables
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    part text;
    created integer := 0;
BEGIN
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        part := format('%s_history_p%s', t, to_char(p_day, 'YYYYMMDD'));
        CONTINUE WHEN to_regclass(format('hatchnb.%I', part)) IS NOT NULL;
        BEGIN
            EXECUTE format('CREATE TABLE hatchnb.%I PARTITION OF hatchnb.%I'
                           ' FOR VALUES FROM (%L) TO (%L)',
                           part, t || '_history',
                           p_day::timestamp AT TIME ZONE 'UTC',
                           (p_day + 1)::timestamp AT TIME ZONE 'UTC');
            created := created + 1;
        EXCEPTION WHEN check_violation THEN
            RAISE NOTICE 'history day % stays in %_history_default (it has rows there)', p_day, t;
        END;
    END LOOP;
    RETURN created;
END $$;

-- The partitions of the UTC days from p_from to p_to; how many tables were created.
CREATE FUNCTION hatchnb.create_history_partitions(p_from date, p_to date) RETURNS integer
LANGUAGE sql AS $$
    SELECT coalesce(sum(hatchnb.create_history_partition(d::date)), 0)::integer
      FROM generate_series(p_from, p_to, interval '1 day') AS d
$$;

-- Whether every run below a hot run (children spawned by its tasks, and theirs) is expired.
CREATE FUNCTION hatchnb.descendants_expired(p_root uuid, p_cutoff timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    WITH RECURSIVE below (id) AS (
        SELECT c.id FROM hatchnb.task_runs t
          JOIN hatchnb.workflow_runs c ON c.parent_task_run_id = t.id
         WHERE t.run_id = p_root
        UNION ALL
        SELECT c.id FROM below
          JOIN hatchnb.task_runs t ON t.run_id = below.id
          JOIN hatchnb.workflow_runs c ON c.parent_task_run_id = t.id
    )
    SELECT NOT EXISTS (SELECT 1 FROM below JOIN hatchnb.workflow_runs r ON r.id = below.id
                        WHERE NOT hatchnb.run_expired(r, p_cutoff))
$$;

-- Archive up to p_batch run trees whose every run is expired (hatchnb.run_expired: terminal,
-- finished before the cutoff, no unfinished task run), oldest finished root first, set-based.
-- A tree moves whole, so a run never leaves before its parent or its children are done.
-- Roots and then the rest of each tree are locked SKIP LOCKED: a tree some other
-- transaction holds part of (a replay, a cancel) is left for a later batch. history_at is
-- when the tree's last run finished. Looks at the p_batch oldest terminal roots finished
-- after p_after; returns the runs and task runs moved and the finishing time examined up to
-- (the next batch's p_after; NULL when no root was left to look at).
CREATE FUNCTION hatchnb.archive_runs(p_cutoff timestamptz, p_batch integer,
                                     p_after timestamptz,
                                     OUT runs integer, OUT tasks integer,
                                     OUT examined_until timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
    v_roots uuid[];
    v_ids uuid[];
    v_run_roots uuid[];
    v_ats timestamptz[];
    v_task_ids bigint[];
    v_task_ats timestamptz[];
    v_day date;
    v_candidates uuid[];
BEGIN
    -- the next p_batch terminal roots after p_after by finishing time, cheaply from the
    -- partial index; only those are checked (a tree still live is passed over, not stuck
    -- at the head of every batch), and the pass goes on from examined_until
    SELECT array_agg(c.id), max(c.finished_at) INTO v_candidates, examined_until
      FROM (SELECT r.id, r.finished_at FROM hatchnb.workflow_runs r
             WHERE r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND r.finished_at < p_cutoff
               AND (p_after IS NULL OR r.finished_at > p_after)
               AND r.parent_task_run_id IS NULL
             ORDER BY r.finished_at
             LIMIT p_batch) c;
    v_roots := ARRAY(
        SELECT r.id FROM hatchnb.workflow_runs r
         WHERE r.id = ANY (v_candidates) AND r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')
           AND hatchnb.run_expired(r, p_cutoff) AND hatchnb.descendants_expired(r.id, p_cutoff)
           FOR UPDATE OF r SKIP LOCKED);
    WITH RECURSIVE tree (root, id) AS (
        SELECT x, x FROM unnest(v_roots) AS x
        UNION ALL
        SELECT tree.root, c.id FROM tree
          JOIN hatchnb.task_runs t ON t.run_id = tree.id
          JOIN hatchnb.workflow_runs c ON c.parent_task_run_id = t.id
    ), locked AS MATERIALIZED (
        SELECT r.id FROM hatchnb.workflow_runs r
         WHERE r.id IN (SELECT id FROM tree WHERE id <> root)
           AND hatchnb.run_expired(r, p_cutoff)
           FOR UPDATE OF r SKIP LOCKED
    ), whole AS (
        SELECT tree.root FROM tree
         GROUP BY tree.root
        HAVING bool_and(tree.id = tree.root OR tree.id IN (SELECT id FROM locked))
    ), moving AS (
        SELECT tree.root, tree.id,
               max(coalesce(r.finished_at, r.created_at)) OVER (PARTITION BY tree.root) AS at
          FROM tree JOIN whole USING (root) JOIN hatchnb.workflow_runs r ON r.id = tree.id
    )
    SELECT array_agg(id), array_agg(root), array_agg(at) INTO v_ids, v_run_roots, v_ats
      FROM moving;
    runs := coalesce(cardinality(v_ids), 0);
    tasks := 0;
    IF runs = 0 THEN
        RETURN;
    END IF;
    FOR v_day IN SELECT DISTINCT (a AT TIME ZONE 'UTC')::date FROM unnest(v_ats) AS a LOOP
        PERFORM hatchnb.create_history_partition(v_day);
    END LOOP;
    SELECT array_agg(t.id), array_agg(m.at) INTO v_task_ids, v_task_ats
      FROM unnest(v_ids, v_ats) AS m (id, at)
      JOIN hatchnb.task_runs t ON t.run_id = m.id;
    tasks := coalesce(cardinality(v_task_ids), 0);
    WITH m AS (DELETE FROM hatchnb.task_logs l USING unnest(v_task_ids, v_task_ats) x (id, at)
                WHERE l.task_run_id = x.id RETURNING l.*, x.at)
    INSERT INTO hatchnb.task_logs_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.durable_events d
                USING unnest(v_task_ids, v_task_ats) x (id, at)
                WHERE d.task_run_id = x.id RETURNING d.*, x.at)
    INSERT INTO hatchnb.durable_events_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.stream_chunks c USING unnest(v_ids, v_ats) x (id, at)
                WHERE c.run_id = x.id RETURNING c.*, x.at)
    INSERT INTO hatchnb.stream_chunks_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.task_attempts a USING unnest(v_ids, v_ats) x (id, at)
                WHERE a.run_id = x.id RETURNING a.*, x.at)
    INSERT INTO hatchnb.task_attempts_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.task_notebooks n USING unnest(v_ids, v_ats) x (id, at)
                WHERE n.run_id = x.id RETURNING n.*, x.at)
    INSERT INTO hatchnb.task_notebooks_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.task_runs t USING unnest(v_task_ids, v_task_ats) x (id, at)
                WHERE t.id = x.id RETURNING t.*, x.at)
    INSERT INTO hatchnb.task_runs_history SELECT * FROM m;
    WITH m AS (DELETE FROM hatchnb.workflow_runs r
                USING unnest(v_ids, v_ats, v_run_roots) x (id, at, root)
                WHERE r.id = x.id RETURNING r.*, x.at, x.root)
    INSERT INTO hatchnb.workflow_runs_history SELECT * FROM m;
END $$;

-- Move the archived trees holding any of these runs back to the hot tables (before a replay
-- or a fork of them); the runs restored. Hot rows of the same ids are locked first, so a
-- restore that meets an archive in flight waits for it and then finds the rows in history.
CREATE FUNCTION hatchnb.restore_runs(p_ids uuid[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_runs uuid[];
    v_tasks bigint[];
    t text;
    cols text;
    restored integer;
BEGIN
    PERFORM 1 FROM hatchnb.workflow_runs WHERE id = ANY (p_ids) FOR UPDATE;
    v_runs := ARRAY(
        SELECT h.id FROM hatchnb.workflow_runs_history h
         WHERE h.history_root IN (SELECT x.history_root FROM hatchnb.workflow_runs_history x
                                   WHERE x.id = ANY (p_ids)));
    IF cardinality(v_runs) = 0 THEN
        RETURN 0;
    END IF;
    v_tasks := ARRAY(SELECT id FROM hatchnb.task_runs_history WHERE run_id = ANY (v_runs));
    -- parents before what references them (task_logs has a foreign key to task_runs)
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute
         WHERE attrelid = format('hatchnb.%I', t)::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format(
            'WITH m AS (DELETE FROM hatchnb.%I WHERE %s RETURNING *)'
            ' INSERT INTO hatchnb.%I OVERRIDING SYSTEM VALUE SELECT %s FROM m',
            t || '_history',
            CASE t WHEN 'workflow_runs' THEN 'id = ANY ($1)'
                   WHEN 'task_runs' THEN 'id = ANY ($2)'
                   WHEN 'task_logs' THEN 'task_run_id = ANY ($2)'
                   WHEN 'durable_events' THEN 'task_run_id = ANY ($2)'
                   ELSE 'run_id = ANY ($1)' END,
            t, cols)
        USING v_runs, v_tasks;
        IF t = 'workflow_runs' THEN
            GET DIAGNOSTICS restored = ROW_COUNT;
        END IF;
    END LOOP;
    RETURN restored;
END $$;

-- The day partitions of the history tables, with the UTC day each holds.
CREATE VIEW hatchnb.history_partitions AS
SELECT parent.relname AS parent_table, child.relname AS partition,
       to_date(right(child.relname, 8), 'YYYYMMDD') AS day
  FROM pg_inherits i
  JOIN pg_class parent ON parent.oid = i.inhparent
  JOIN pg_class child ON child.oid = i.inhrelid
  JOIN pg_namespace n ON n.oid = child.relnamespace AND n.nspname = 'hatchnb'
 WHERE parent.relname LIKE '%\_history' AND child.relname ~ '_history_p[0-9]{8}$';

-- Retention of one history day: the rows of its partitions per table (every day partition
-- ends before the cutoff, so all of them are expired), then, unless p_dry_run, the
-- partitions are dropped and the HTTP trigger rows of their runs deleted.
-- Like creating one, dropping a partition gives up behind a long read (the pass fails and
-- the next one tries again).
CREATE FUNCTION hatchnb.drop_history_day(p_day date, p_dry_run boolean) RETURNS jsonb
LANGUAGE plpgsql SET lock_timeout = '100ms'
-- the owner's rights: the engine may run as the worker role, which cannot create or drop tables
SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    part text;
    n bigint;
    counts jsonb := '{}';
BEGIN
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        part := format('%s_history_p%s', t, to_char(p_day, 'YYYYMMDD'));
        CONTINUE WHEN to_regclass(format('hatchnb.%I', part)) IS NULL;
        EXECUTE format('SELECT count(*) FROM hatchnb.%I', part) INTO n;
        counts := counts || jsonb_build_object(t, n);
        IF NOT p_dry_run THEN
            IF t = 'workflow_runs' THEN
                EXECUTE format('DELETE FROM hatchnb.api_triggers WHERE run_id IN'
                               ' (SELECT id FROM hatchnb.%I)', part);
            END IF;
            EXECUTE format('DROP TABLE hatchnb.%I', part);
        END IF;
    END LOOP;
    RETURN counts;
END $$;

-- Retention of the default partitions: delete up to p_batch expired rows from each (whole
-- trees share history_at, so a pass that ends with nothing left orphans nothing); per table
-- the rows deleted, or with p_dry_run the rows that would be.
CREATE FUNCTION hatchnb.prune_history_default(p_cutoff timestamptz, p_batch integer,
                                              p_dry_run boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    counts jsonb := '{}';
BEGIN
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        IF p_dry_run THEN
            EXECUTE format('SELECT count(*) FROM hatchnb.%I WHERE history_at < $1',
                           t || '_history_default') INTO n USING p_cutoff;
        ELSE
            IF t = 'workflow_runs' THEN
                DELETE FROM hatchnb.api_triggers WHERE run_id IN (
                    SELECT id FROM hatchnb.workflow_runs_history_default
                     WHERE history_at < p_cutoff LIMIT p_batch);
            END IF;
            EXECUTE format('DELETE FROM hatchnb.%1$I WHERE ctid IN (SELECT ctid FROM hatchnb.%1$I'
                           ' WHERE history_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)',
                           t || '_history_default') USING p_cutoff, p_batch;
            GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
        counts := counts || jsonb_build_object(t, n);
    END LOOP;
    RETURN counts;
END $$;

-- Whether a retention pass with this cutoff removes a history row: its day partition ends by
-- the cutoff, or it sits in the default partition and its tree finished before the cutoff.
CREATE FUNCTION hatchnb.history_row_expires(p_table oid, p_at timestamptz,
                                            p_cutoff timestamptz) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_table::regclass::text LIKE '%\_history\_default'
                THEN p_at < p_cutoff
                ELSE ((p_at AT TIME ZONE 'UTC')::date + 1)::timestamp AT TIME ZONE 'UTC'
                     <= p_cutoff END
$$;
