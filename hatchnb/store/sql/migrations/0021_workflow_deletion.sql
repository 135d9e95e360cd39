-- Deleting a workflow (hatchet.workflows.delete): its versions are marked deleted, not
-- removed, so the runs already started (pinned to a version, its code included) finish;
-- lists leave them out and no new run can be inserted for them (insert_runs calls
-- refuse_deleted_workflow), until the workflow is registered again.
ALTER TABLE hatchnb.workflow_versions ADD COLUMN deleted_at timestamptz;

-- Raise the error a trigger of a deleted workflow gets (SQLSTATE no_data_found: the client
-- makes it a WorkflowNotFound); never returns normally.
CREATE FUNCTION hatchnb.refuse_deleted_workflow(p_workflow_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'no_data_found',
        MESSAGE = format('workflow %L was deleted (hatchet.workflows.delete); register it '
                         'again (hatchet.register(workflow), or start a worker with it) to '
                         'start runs of it', p_workflow_name);
END;
$$;
