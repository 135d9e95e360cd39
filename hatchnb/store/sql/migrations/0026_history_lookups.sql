-- Reads of run history that do not grow with it (issue 20).
--
-- 1. A run read by id finds its history partitions without probing every day. Run ids are
--    UUIDv7, so the first 48 bits (milliseconds) put a run in an "id hour";
--    history_id_hours records, for each id hour, the UTC days its runs were archived into.
--    By-id reads filter history_at from the first to the last of those days (or only the
--    hot table when the hour has none). Any uuid works (the hour is just a bucket of ids);
--    time-ordered ids make each bucket span a day or two. The archive adds rows, dropping a
--    day removes that day's; a restore or a default-partition prune leaves rows behind,
--    which only widens a range.
-- 2. Counting runs over a time range reads per-hour totals of history instead of its rows:
--    history_run_counts holds, per created hour (UTC), workflow and status, how many
--    archived runs there are per history day. History rows never change status (a replay
--    restores them first), so the archive adds, a restore subtracts, dropping a day deletes
--    its totals and pruning the default partition subtracts what it deleted.
-- 3. Every T_all view gains history_at ('infinity' for a hot row), so by-id reads of task
--    rows, logs and attempts are pruned too.

CREATE TABLE hatchnb.history_id_hours (
    id_hour bigint NOT NULL,
    day date NOT NULL,
    PRIMARY KEY (id_hour, day)
);
CREATE INDEX history_id_hours_day ON hatchnb.history_id_hours (day);

CREATE TABLE hatchnb.history_run_counts (
    created_hour timestamptz NOT NULL,
    workflow_name text NOT NULL,
    status text NOT NULL,
    day date NOT NULL,
    runs bigint NOT NULL,
    PRIMARY KEY (created_hour, workflow_name, status, day)
);
CREATE INDEX history_run_counts_day ON hatchnb.history_run_counts (day);
-- a count per status (the runs page asks for each) reads only that status's hours
CREATE INDEX history_run_counts_status
    ON hatchnb.history_run_counts (status, created_hour) INCLUDE (workflow_name, runs);

-- The bucket of a run id: hours since the epoch of its first 48 bits (a UUIDv7's time).
CREATE FUNCTION hatchnb.run_id_hour(p_id uuid) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT ('x' || left(replace(p_id::text, '-', ''), 12))::bit(48)::bigint / 3600000
$$;

-- The UTC hour a time falls in (whatever the session's time zone).
CREATE FUNCTION hatchnb.utc_hour(p_at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT date_trunc('hour', p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
$$;

-- The history_at range that can hold rows of these runs: from the start of the first day
-- their id hours were archived into to the end of the last ('infinity' and '-infinity' when
-- none was: then only hot rows can match), for restore_runs. The by-id reads of runs.sql
-- read the same range first (history_range, id hours computed in Python) and pass it as
-- parameters, which prunes when the read is planned; these stable functions would be
-- evaluated for every partition while planning.
CREATE FUNCTION hatchnb.history_lower(p_ids uuid[]) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce(min(h.day)::timestamp AT TIME ZONE 'UTC', 'infinity')
              FROM hatchnb.history_id_hours h
             WHERE h.id_hour = ANY (ARRAY(SELECT hatchnb.run_id_hour(x) FROM unnest(p_ids) x)));
END $$;

CREATE FUNCTION hatchnb.history_upper(p_ids uuid[]) RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
BEGIN
    RETURN (SELECT coalesce((max(h.day) + 1)::timestamp AT TIME ZONE 'UTC', '-infinity')
              FROM hatchnb.history_id_hours h
             WHERE h.id_hour = ANY (ARRAY(SELECT hatchnb.run_id_hour(x) FROM unnest(p_ids) x)));
END $$;

-- Archived runs created in [p_from, p_to), counted row by row up to p_cap (NULL: all).
CREATE FUNCTION hatchnb.counted_history_rows(p_from timestamptz, p_to timestamptz,
                                             p_statuses text[], p_workflows text[],
                                             p_cap bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    RETURN (SELECT count(*) FROM (
        SELECT 1 FROM hatchnb.workflow_runs_history r
         WHERE r.history_at >= p_from AND r.created_at >= p_from AND r.created_at < p_to
           AND (p_statuses IS NULL OR r.status = ANY (p_statuses))
           AND (p_workflows IS NULL OR r.workflow_name = ANY (p_workflows))
         LIMIT p_cap
    ) matching);
END $$;

-- Whether the hourly totals from p_from's hour to p_to's hold any matching archived run.
CREATE FUNCTION hatchnb.history_hours_hold(p_from timestamptz, p_to timestamptz,
                                           p_statuses text[], p_workflows text[])
RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM hatchnb.history_run_counts c
         WHERE c.created_hour BETWEEN hatchnb.utc_hour(p_from) AND hatchnb.utc_hour(p_to)
           AND (p_statuses IS NULL OR c.status = ANY (p_statuses))
           AND (p_workflows IS NULL OR c.workflow_name = ANY (p_workflows))
           AND c.runs > 0)
$$;

-- How many archived runs were created in [p_since, p_until] (p_until NULL: no end) with one
-- of these statuses and workflows (NULL: any), counting no further than p_cap (NULL: all).
-- Whole UTC hours come from history_run_counts; the rows of the partial hours at either end
-- are counted, and only while the total is still under the cap.
CREATE FUNCTION hatchnb.counted_history_runs(p_since timestamptz, p_until timestamptz,
                                             p_statuses text[], p_workflows text[],
                                             p_cap bigint) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    -- the whole hours are [first_hour, end_hour)
    first_hour timestamptz := hatchnb.utc_hour(p_since + interval '1 hour' - interval '1 us');
    end_hour timestamptz := CASE WHEN p_until IS NULL THEN 'infinity'
                                 ELSE hatchnb.utc_hour(p_until) END;
    n bigint := 0;
BEGIN
    IF first_hour < end_hour THEN
        SELECT coalesce(sum(c.runs), 0) INTO n FROM hatchnb.history_run_counts c
         WHERE c.created_hour >= first_hour AND c.created_hour < end_hour
           AND (p_statuses IS NULL OR c.status = ANY (p_statuses))
           AND (p_workflows IS NULL OR c.workflow_name = ANY (p_workflows));
    ELSE  -- no whole hour: the range is one edge
        first_hour := p_until + interval '1 us';
        end_hour := 'infinity';
    END IF;
    IF p_cap IS NOT NULL AND n >= p_cap THEN
        RETURN n;
    END IF;
    -- an edge is counted row by row only when its hours hold matching runs at all (the
    -- statuses a page asks about but history has none of cost nothing)
    IF hatchnb.history_hours_hold(p_since, first_hour - interval '1 us', p_statuses,
                                  p_workflows) THEN
        n := n + hatchnb.counted_history_rows(p_since, first_hour, p_statuses, p_workflows,
                                              p_cap - n);
    END IF;
    IF p_until IS NOT NULL AND end_hour <= p_until AND (p_cap IS NULL OR n < p_cap)
       AND hatchnb.history_hours_hold(end_hour, p_until, p_statuses, p_workflows) THEN
        n := n + hatchnb.counted_history_rows(end_hour, p_until + interval '1 us',
                                              p_statuses, p_workflows, p_cap - n);
    END IF;
    RETURN n;
END $$;

-- Add (p_sign 1) or take away (-1) history rows of workflow_runs (given column by column) to
-- the hourly totals (a total that reaches 0 stays until its day is dropped).
CREATE FUNCTION hatchnb.count_history_runs(p_created timestamptz[], p_workflows text[],
                                           p_statuses text[], p_ats timestamptz[],
                                           p_sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO hatchnb.history_run_counts AS c (created_hour, workflow_name, status, day, runs)
    SELECT hatchnb.utc_hour(x.created_at), x.workflow_name, x.status,
           (x.history_at AT TIME ZONE 'UTC')::date, p_sign * count(*)
      FROM unnest(p_created, p_workflows, p_statuses, p_ats)
        AS x (created_at, workflow_name, status, history_at)
     GROUP BY 1, 2, 3, 4
    ON CONFLICT (created_hour, workflow_name, status, day)
    DO UPDATE SET runs = c.runs + excluded.runs
$$;

-- Every T_all view shows history_at ('infinity' for a hot row), like workflow_runs_all.
DO $$
DECLARE
    t text;
    cols text;
BEGIN
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        CONTINUE WHEN t = 'workflow_runs';
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute
         WHERE attrelid = format('hatchnb.%I', t)::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format('DROP VIEW hatchnb.%I', t || '_all');
        EXECUTE format('CREATE VIEW hatchnb.%I AS'
                       ' SELECT %s, timestamptz ''infinity'' AS history_at FROM hatchnb.%I'
                       ' UNION ALL SELECT %s, history_at FROM hatchnb.%I',
                       t || '_all', cols, t, cols, t || '_history');
    END LOOP;
END $$;

-- What history already holds (a deployment upgraded with runs archived).
INSERT INTO hatchnb.history_id_hours (id_hour, day)
SELECT DISTINCT hatchnb.run_id_hour(id), (history_at AT TIME ZONE 'UTC')::date
  FROM hatchnb.workflow_runs_history;
INSERT INTO hatchnb.history_run_counts (created_hour, workflow_name, status, day, runs)
SELECT hatchnb.utc_hour(created_at), workflow_name, status,
       (history_at AT TIME ZONE 'UTC')::date, count(*)
  FROM hatchnb.workflow_runs_history
 GROUP BY 1, 2, 3, 4;

-- The archive, restore and retention of 0022, keeping the two tables above up to date.
-- The archive also walks the roots by (finished_at, id): runs finished by one statement
-- share finished_at, and a batch that ended inside such a group used to skip the rest of
-- it until the next pass. p_after_id / examined_id carry the id half of the position.
DROP FUNCTION hatchnb.archive_runs(timestamptz, integer, timestamptz);
CREATE FUNCTION hatchnb.archive_runs(p_cutoff timestamptz, p_batch integer,
                                     p_after timestamptz, p_after_id uuid,
                                     OUT runs integer, OUT tasks integer,
                                     OUT examined_until timestamptz, OUT examined_id uuid)
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
    v_created timestamptz[];
    v_workflows text[];
    v_statuses text[];
    v_moved_ats timestamptz[];
BEGIN
    -- the next p_batch terminal roots after (p_after, p_after_id) by finishing time, cheaply
    -- from the partial index; only those are checked (a tree still live is passed over, not
    -- stuck at the head of every batch), and the pass goes on from the last one examined
    SELECT array_agg(c.id), (array_agg(c.finished_at ORDER BY c.finished_at DESC, c.id DESC))[1],
           (array_agg(c.id ORDER BY c.finished_at DESC, c.id DESC))[1]
      INTO v_candidates, examined_until, examined_id
      FROM (SELECT r.id, r.finished_at FROM hatchnb.workflow_runs r
             WHERE r.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED') AND r.finished_at < p_cutoff
               AND (p_after IS NULL OR r.finished_at >= p_after)
               AND (p_after IS NULL OR (r.finished_at, r.id) > (p_after, p_after_id))
               AND r.parent_task_run_id IS NULL
             ORDER BY r.finished_at, r.id
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
                WHERE r.id = x.id RETURNING r.*, x.at, x.root),
         moved AS (INSERT INTO hatchnb.workflow_runs_history SELECT * FROM m)
    SELECT array_agg(m.created_at), array_agg(m.workflow_name), array_agg(m.status),
           array_agg(m.at)
      INTO v_created, v_workflows, v_statuses, v_moved_ats FROM m;
    PERFORM hatchnb.count_history_runs(v_created, v_workflows, v_statuses, v_moved_ats, 1);
    INSERT INTO hatchnb.history_id_hours (id_hour, day)
    SELECT DISTINCT hatchnb.run_id_hour(m.id), (m.at AT TIME ZONE 'UTC')::date
      FROM unnest(v_ids, v_ats) AS m (id, at)
    ON CONFLICT DO NOTHING;
END $$;

DROP FUNCTION hatchnb.restore_runs(uuid[]);
CREATE FUNCTION hatchnb.restore_runs(p_ids uuid[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_runs uuid[];
    v_tasks bigint[];
    v_created timestamptz[];
    v_workflows text[];
    v_statuses text[];
    v_ats timestamptz[];
    v_from timestamptz := hatchnb.history_lower(p_ids);
    v_until timestamptz := hatchnb.history_upper(p_ids);
    v_first timestamptz;
    v_last timestamptz;
    t text;
    cols text;
    restored integer;
BEGIN
    -- every read and delete below names the days its rows can be in (the ids' range, then
    -- the trees' own history_at), so only those partitions are planned and probed
    PERFORM 1 FROM hatchnb.workflow_runs WHERE id = ANY (p_ids) FOR UPDATE;
    SELECT array_agg(h.id), array_agg(h.created_at), array_agg(h.workflow_name),
           array_agg(h.status), array_agg(h.history_at)
      INTO v_runs, v_created, v_workflows, v_statuses, v_ats
      FROM hatchnb.workflow_runs_history h
     WHERE h.history_root IN (SELECT x.history_root FROM hatchnb.workflow_runs_history x
                               WHERE x.id = ANY (p_ids) AND x.history_at >= v_from
                                 AND x.history_at < v_until)
       AND h.history_at >= v_from AND h.history_at < v_until;
    IF v_runs IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM hatchnb.count_history_runs(v_created, v_workflows, v_statuses, v_ats, -1);
    SELECT min(a), max(a) INTO v_first, v_last FROM unnest(v_ats) AS a;
    v_tasks := ARRAY(SELECT id FROM hatchnb.task_runs_history
                      WHERE run_id = ANY (v_runs) AND history_at BETWEEN v_first AND v_last);
    -- parents before what references them (task_logs has a foreign key to task_runs)
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO cols
          FROM pg_attribute
         WHERE attrelid = format('hatchnb.%I', t)::regclass AND attnum > 0 AND NOT attisdropped;
        EXECUTE format(
            'WITH m AS (DELETE FROM hatchnb.%I WHERE %s'
            ' AND history_at BETWEEN $3 AND $4 RETURNING *)'
            ' INSERT INTO hatchnb.%I OVERRIDING SYSTEM VALUE SELECT %s FROM m',
            t || '_history',
            CASE t WHEN 'workflow_runs' THEN 'id = ANY ($1)'
                   WHEN 'task_runs' THEN 'id = ANY ($2)'
                   WHEN 'task_logs' THEN 'task_run_id = ANY ($2)'
                   WHEN 'durable_events' THEN 'task_run_id = ANY ($2)'
                   ELSE 'run_id = ANY ($1)' END,
            t, cols)
        USING v_runs, v_tasks, v_first, v_last;
        IF t = 'workflow_runs' THEN
            GET DIAGNOSTICS restored = ROW_COUNT;
        END IF;
    END LOOP;
    RETURN restored;
END $$;

DROP FUNCTION hatchnb.drop_history_day(date, boolean);
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
                -- (a day whose runs sit in the default partition keeps these)
                DELETE FROM hatchnb.history_id_hours WHERE day = p_day;
                DELETE FROM hatchnb.history_run_counts WHERE day = p_day;
            END IF;
            EXECUTE format('DROP TABLE hatchnb.%I', part);
        END IF;
    END LOOP;
    RETURN counts;
END $$;

DROP FUNCTION hatchnb.prune_history_default(timestamptz, integer, boolean);
CREATE FUNCTION hatchnb.prune_history_default(p_cutoff timestamptz, p_batch integer,
                                              p_dry_run boolean) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    t text;
    n bigint;
    counts jsonb := '{}';
    v_created timestamptz[];
    v_workflows text[];
    v_statuses text[];
    v_ats timestamptz[];
BEGIN
    FOREACH t IN ARRAY hatchnb.history_tables() LOOP
        IF p_dry_run THEN
            EXECUTE format('SELECT count(*) FROM hatchnb.%I WHERE history_at < $1',
                           t || '_history_default') INTO n USING p_cutoff;
        ELSE
            IF t = 'workflow_runs' THEN  -- with its trigger rows and its hourly totals
                WITH gone AS (
                    DELETE FROM hatchnb.workflow_runs_history_default WHERE ctid IN (
                        SELECT ctid FROM hatchnb.workflow_runs_history_default
                         WHERE history_at < p_cutoff LIMIT p_batch FOR UPDATE SKIP LOCKED)
                    RETURNING id, created_at, workflow_name, status, history_at
                ), triggers AS (
                    DELETE FROM hatchnb.api_triggers WHERE run_id IN (SELECT id FROM gone)
                )
                SELECT count(*), array_agg(created_at), array_agg(workflow_name),
                       array_agg(status), array_agg(history_at)
                  INTO n, v_created, v_workflows, v_statuses, v_ats FROM gone;
                PERFORM hatchnb.count_history_runs(v_created, v_workflows, v_statuses, v_ats,
                                                   -1);
                counts := counts || jsonb_build_object(t, n);
                CONTINUE;
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
