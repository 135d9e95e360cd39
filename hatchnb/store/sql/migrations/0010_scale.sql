-- hatchnb schema, version 10: the runs page stays fast at a million finished runs.
--
-- Both indexes are built without CONCURRENTLY (migrations run in a transaction): on an
-- existing database the build blocks writes to workflow_runs (new runs, status changes)
-- while it runs, about 1.5 s per million runs on a 2-vCPU machine. Migrate a large database
-- when a short pause is acceptable.

-- Runs of one status by time: status-filtered pages newest first, and the capped per-status
-- counts of the dashboard (one index range per status, index-only once vacuumed).
CREATE INDEX workflow_runs_status_created
    ON hatchnb.workflow_runs (status, created_at DESC);

-- Metadata containment filters (`additional_metadata @> '{"customer": "c7"}'`). The run
-- queries pass NULL, not '{}', when there is no metadata filter, so this is never read for
-- "everything".
CREATE INDEX workflow_runs_metadata
    ON hatchnb.workflow_runs USING gin (additional_metadata jsonb_path_ops);
