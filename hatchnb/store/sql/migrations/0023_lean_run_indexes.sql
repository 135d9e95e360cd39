-- Fewer index entries per new run (issue 15). A run without additional metadata ('{}', what
-- bulk enqueue mostly writes) got an "empty item" entry in the metadata GIN index that no
-- query reads: every containment filter is non-empty (the run queries pass NULL for none)
-- and says so with `additional_metadata <> '{}'`, which lets them use this partial index.
DROP INDEX hatchnb.workflow_runs_metadata;
CREATE INDEX workflow_runs_metadata ON hatchnb.workflow_runs
    USING gin (additional_metadata jsonb_path_ops) WHERE additional_metadata <> '{}'::jsonb;
