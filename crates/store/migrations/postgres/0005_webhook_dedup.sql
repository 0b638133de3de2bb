-- Events are deduplicated per workspace: another workspace's app on the
-- same portal must not be able to pre-empt (suppress) our events by their ids.
-- Legacy (v1/v2) signatures are accepted only when a workspace opts in.
DROP INDEX webhook_events_event;
CREATE UNIQUE INDEX webhook_events_event ON webhook_events (workspace_id, portal_id, event_id);
ALTER TABLE webhook_settings ADD COLUMN allow_legacy_signatures boolean NOT NULL DEFAULT false;
