-- Migration bookkeeping (hatchnb.store.migrate).

-- name: schema_exists
-- Whether the hatchnb schema has been created.
SELECT to_regclass('hatchnb.schema_version') IS NOT NULL AS present;

-- name: applied_migrations
-- The migrations applied so far.
SELECT version FROM hatchnb.schema_version;

-- name: record_migration
-- Remember that a migration was applied.
INSERT INTO hatchnb.schema_version (version) VALUES (%(version)s);
