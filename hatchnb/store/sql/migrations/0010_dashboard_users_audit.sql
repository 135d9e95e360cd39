-- Named dashboard users with a role, and the audit log of what they did (issue 19).

-- Who may log in to the dashboard. Passwords are stored as scrypt hashes
-- ("scrypt$n$r$p$salt$hash", hatchnb/passwords.py), never in clear.
CREATE TABLE hatchnb.dashboard_users (
    name text PRIMARY KEY,
    role text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    password_hash text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per action taken from the dashboard (cancel, replay, trigger, crons, schedules,
-- events, alert settings): who, with which role, on what. Append-only by convention; the
-- worker role may not touch it (roles.sql).
CREATE TABLE hatchnb.audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL,
    role text NOT NULL,
    action text NOT NULL,
    target text NOT NULL DEFAULT '',
    detail jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON hatchnb.audit_log (at DESC);
