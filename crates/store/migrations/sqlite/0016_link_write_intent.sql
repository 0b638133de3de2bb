-- The bases each live-sync HubSpot write will establish (a JSON list, oldest
-- first), recorded before the write and cleared by the link's next commit. A
-- rerun after a crash between a write and its commit (the write landed, the
-- commit did not) finds HubSpot holding exactly one of them and reconciles
-- against it: the landed write is not mistaken for a HubSpot change newer than
-- the Keva edits made since.
-- Keep in step with migrations/postgres.
ALTER TABLE crm_links ADD COLUMN pending_bases TEXT;
