-- A link, job, batch run or history row names its connector together with its own
-- workspace, so the database itself refuses a row of one workspace that points at
-- another workspace's connector (the Rust checks are no longer the only guard).
-- The composite keys replace the single-column ones, with the same ON DELETE.
-- Keep in step with migrations/sqlite.
ALTER TABLE hubspot_connectors
    ADD CONSTRAINT hubspot_connectors_workspace_id_id UNIQUE (workspace_id, id);

ALTER TABLE crm_links
    DROP CONSTRAINT crm_links_connector_id_fkey,
    ADD CONSTRAINT crm_links_connector_in_workspace FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE;

ALTER TABLE sync_jobs
    DROP CONSTRAINT sync_jobs_connector_id_fkey,
    ADD CONSTRAINT sync_jobs_connector_in_workspace FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE;

ALTER TABLE batch_runs
    DROP CONSTRAINT batch_runs_connector_id_fkey,
    ADD CONSTRAINT batch_runs_connector_in_workspace FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE;

ALTER TABLE sync_history
    DROP CONSTRAINT sync_history_connector_id_fkey,
    ADD CONSTRAINT sync_history_connector_in_workspace FOREIGN KEY (workspace_id, connector_id)
        REFERENCES hubspot_connectors (workspace_id, id) ON DELETE CASCADE;
