-- The region (ISO 3166 alpha-2, e.g. GB) a workspace's phone numbers are read in
-- when written without a country code, for the phone_e164 mapping transform.
-- NULL: none (only numbers with a country code are normalised). Keep in step
-- with migrations/sqlite.
ALTER TABLE workspaces ADD COLUMN phone_region TEXT;
