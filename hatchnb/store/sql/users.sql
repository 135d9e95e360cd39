-- Dashboard users and the audit log of their actions (0010_dashboard_users_audit.sql).

-- name: add_dashboard_user
-- Create a dashboard user; returns nothing when the name is taken.
INSERT INTO hatchnb.dashboard_users (name, role, password_hash)
VALUES (%(name)s, %(role)s, %(password_hash)s)
ON CONFLICT (name) DO NOTHING
RETURNING name, role, created_at, updated_at;

-- name: get_dashboard_user
-- One dashboard user with the hash of their password.
SELECT name, role, password_hash, created_at, updated_at
  FROM hatchnb.dashboard_users WHERE name = %(name)s;

-- name: list_dashboard_users
-- Every dashboard user (no password hashes), by name.
SELECT name, role, created_at, updated_at FROM hatchnb.dashboard_users ORDER BY name;

-- name: count_dashboard_users
-- How many dashboard users there are (none: the shared password logs in).
SELECT count(*) AS n FROM hatchnb.dashboard_users;

-- name: set_dashboard_user_role
-- Change a user's role; returns nothing when there is no such user.
UPDATE hatchnb.dashboard_users SET role = %(role)s, updated_at = now()
 WHERE name = %(name)s
RETURNING name, role, created_at, updated_at;

-- name: set_dashboard_user_password
-- Change a user's password hash; returns nothing when there is no such user.
UPDATE hatchnb.dashboard_users SET password_hash = %(password_hash)s, updated_at = now()
 WHERE name = %(name)s
RETURNING name, role, created_at, updated_at;

-- name: remove_dashboard_user
-- Delete a dashboard user; returns the name when there was one.
DELETE FROM hatchnb.dashboard_users WHERE name = %(name)s RETURNING name;

-- name: record_audit_entry
-- Append one action to the audit log.
INSERT INTO hatchnb.audit_log (actor, role, action, target, detail)
VALUES (%(actor)s, %(role)s, %(action)s, %(target)s, %(detail)s)
RETURNING id, at, actor, role, action, target, detail;

-- name: list_audit_entries
-- The newest audit log entries first.
SELECT id, at, actor, role, action, target, detail
  FROM hatchnb.audit_log ORDER BY id DESC LIMIT %(limit)s;
