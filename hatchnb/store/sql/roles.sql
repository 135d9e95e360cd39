-- Access control for the hatchnb schema (docs/security.md). Role names are filled in by
-- hatchnb.store.migrate.roles_sql (`hatchnb roles --print`); run it as the owner role.

-- name: grant_roles
-- Four roles: the owner migrates, workers run tasks but cannot change code, clients register code and trigger runs, the dashboard only reads; idempotent, re-run after upgrades.
REVOKE ALL ON SCHEMA hatchnb FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA hatchnb FROM PUBLIC;
GRANT USAGE ON SCHEMA hatchnb TO {worker}, {client}, {dashboard};
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA hatchnb TO {worker}, {client};

-- clients: register code, trigger, schedule, push events, cancel and replay
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hatchnb TO {client};
REVOKE INSERT, UPDATE, DELETE ON hatchnb.schema_version FROM {client};

-- workers (and `hatchnb engine`): claim, report, log, engine duties; never the code, what
-- triggers it, the alert settings or the schema
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA hatchnb TO {worker};
REVOKE INSERT, UPDATE, DELETE ON hatchnb.workflow_versions, hatchnb.workflow_triggers,
    hatchnb.filters, hatchnb.alert_settings, hatchnb.schema_version, hatchnb.workflow_pauses
    FROM {worker};

-- dashboard: reads everything but the alert channels' secrets (Slack URL, SMTP password)
GRANT SELECT ON ALL TABLES IN SCHEMA hatchnb TO {dashboard};
REVOKE SELECT ON hatchnb.alert_settings FROM {dashboard};
GRANT SELECT (id, on_failure, on_schedule_timeout, window_seconds, since, updated_at)
    ON hatchnb.alert_settings TO {dashboard};

-- dashboard users and the audit log (0010): workers make no users and write no entries;
-- entries are never rewritten or deleted, except by the owner
REVOKE INSERT, UPDATE, DELETE ON hatchnb.dashboard_users, hatchnb.audit_log FROM {worker};
REVOKE UPDATE, DELETE ON hatchnb.audit_log FROM {client};

-- webhooks (0016): workers never need them; the dashboard reads them without their auth
-- settings and (hashed or sealed) secrets
REVOKE ALL ON hatchnb.webhooks FROM {worker};
REVOKE SELECT ON hatchnb.webhooks FROM {dashboard};
GRANT SELECT (id, name, source_name, auth_type, event_key_expression, scope_expression,
              static_payload, return_event_as_response_payload, created_at, updated_at)
    ON hatchnb.webhooks TO {dashboard};

-- HTTP API tokens (0017): made and revoked by clients (hatchnb tokens); workers neither
-- make tokens nor record runs started over HTTP, but the engine's retention deletes the
-- records of the runs it deletes (0022); the dashboard has no use for token hashes
REVOKE INSERT, UPDATE, DELETE ON hatchnb.api_tokens FROM {worker};
REVOKE INSERT, UPDATE ON hatchnb.api_triggers FROM {worker};
REVOKE SELECT ON hatchnb.api_tokens FROM {dashboard};

-- tables and sequences of later migrations (run by the owner) get the general rule
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA hatchnb
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {worker}, {client};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA hatchnb
    GRANT SELECT ON TABLES TO {dashboard};
ALTER DEFAULT PRIVILEGES FOR ROLE {owner} IN SCHEMA hatchnb
    GRANT USAGE, SELECT ON SEQUENCES TO {worker}, {client};
