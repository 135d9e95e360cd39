"""Apply the numbered SQL migrations, in order, under an advisory lock."""

from __future__ import annotations

import os

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from hatchnb import errors
from hatchnb.store import queries
from hatchnb.store.db import direct_dsn, wrap_errors

#: arbitrary constant identifying hatchnb's migration lock
_MIGRATION_LOCK = 7_413_902_118
ALL_VERSIONS = {version for version, _, _ in queries.migrations()}
SCHEMA_VERSION = max(ALL_VERSIONS)
#: The numbering the migration files belong to, recorded in schema_version.baseline (a
#: column default of 0001_core.sql). Baseline 1 was the pre-release chain 0001_initial ...
#: 0011_trigger_errors, squashed into one file per area; its rows have no such column.
BASELINE = 2
#: the baselines recorded in schema_version; rows without the column count as baseline 1
_RECORDED_BASELINES = (
    "SELECT DISTINCT coalesce((to_jsonb(v) ->> 'baseline')::integer, 1)"
    " FROM hatchnb.schema_version v"
)


def applied_versions(conn: psycopg.Connection[tuple[object, ...]]) -> set[int]:
    """The versions recorded in the database (none before the first migration). A database
    migrated under another baseline is refused: its version numbers mean other files."""
    row = conn.execute(queries.get("schema_exists")).fetchone()
    if not row or not row[0]:
        return set()
    _check_baseline({int(r[0]) for r in conn.execute(_RECORDED_BASELINES)})  # type: ignore[call-overload]
    return {int(r[0]) for r in conn.execute(queries.get("applied_migrations"))}  # type: ignore[call-overload]


def _check_baseline(recorded: set[int]) -> None:
    newer = max(recorded, default=BASELINE)
    if newer > BASELINE:
        raise errors.SchemaTooNew(
            f"The database schema was migrated by a newer hatchnb (migration baseline {newer}, "
            f"this hatchnb knows {BASELINE}); upgrade hatchnb (pip install -U hatchnb) on this "
            "machine."
        )
    if min(recorded, default=BASELINE) < BASELINE:
        raise errors.ConfigurationError(
            "this database's hatchnb schema was created by a pre-release hatchnb whose "
            "migrations (0001_initial ... 0011_trigger_errors) have since been replaced by one "
            "file per area; it cannot be upgraded in place. Recreate it: run "
            "`DROP SCHEMA hatchnb CASCADE` in this database (this deletes every run, "
            "schedule, event and registered workflow in it) and connect again. The embedded "
            "server (no HATCHNB_DATABASE_URL) keeps its data in ~/.local/share/hatchnb/pgdata "
            "(or $HATCHNB_HOME/pgdata), database hatchnb."
        )


def migrate(dsn: str) -> int:
    """Bring the schema up to date; returns the schema version. Safe to call concurrently.
    Every migration not applied yet is applied, in order, also one numbered below the
    newest applied one (migrations written on branches land in any order)."""
    with wrap_errors(), psycopg.connect(_with_timeout(direct_dsn(dsn)), autocommit=True) as conn:
        if applied_versions(conn) == ALL_VERSIONS:
            return SCHEMA_VERSION
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            return _apply_pending(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


#: seconds to wait for a server that does not answer (a dropped packet, not a refusal)
CONNECT_TIMEOUT = 10


def _with_timeout(dsn: str) -> str:
    """A connect timeout unless the URL or PGCONNECT_TIMEOUT sets one; a malformed URL is a
    ConfigurationError naming HATCHNB_DATABASE_URL."""
    try:
        params = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as exc:
        raise errors.ConfigurationError(
            f"the database URL is malformed ({str(exc).strip()}); set HATCHNB_DATABASE_URL "
            "(or dsn=) to a URL like postgresql://user:password@host:5432/dbname"
        ) from None
    if "connect_timeout" in params or os.environ.get("PGCONNECT_TIMEOUT"):
        return dsn
    return make_conninfo(dsn, connect_timeout=CONNECT_TIMEOUT)


def _apply_pending(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    applied = applied_versions(conn)
    version = max(applied, default=0)
    if version > SCHEMA_VERSION:
        raise errors.SchemaTooNew(
            f"The database schema is at version {version} but this hatchnb knows only up to "
            f"{SCHEMA_VERSION}; upgrade hatchnb (pip install -U hatchnb) on this machine."
        )
    for number, _name, statements in queries.migrations():
        if number in applied:
            continue
        try:
            with conn.transaction():
                conn.execute(statements)
                conn.execute(queries.get("record_migration"), {"version": number})
        except psycopg.errors.InsufficientPrivilege as exc:
            raise errors.ConfigurationError(
                f"the hatchnb schema is at version {version} and this hatchnb needs "
                f"{SCHEMA_VERSION}, but this database role may not change the schema ({exc}); "
                "run `hatchnb migrate` as the owner role (docs/security.md)"
            ) from None
    return SCHEMA_VERSION


#: default role names of ``hatchnb roles --print``
ROLE_NAMES = {
    "owner": "hatchnb_owner",
    "worker": "hatchnb_worker",
    "client": "hatchnb_client",
    "dashboard": "hatchnb_dashboard",
}


def roles_sql(**names: str) -> str:
    """The GRANTs of ``sql/roles.sql`` for these role names (defaults: ROLE_NAMES)."""
    unknown = set(names) - set(ROLE_NAMES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}; use {sorted(ROLE_NAMES)}")
    chosen = {role: sql.Identifier(names.get(role) or name) for role, name in ROLE_NAMES.items()}
    template = sql.SQL(queries.get("grant_roles"))
    return template.format(**chosen).as_string(None)
