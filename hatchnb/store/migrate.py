"""Apply the numbered SQL migrations, in order, under an advisory lock."""

from __future__ import annotations

import psycopg

from hatchnb import errors
from hatchnb.store import queries
from hatchnb.store.db import wrap_errors

#: arbitrary constant identifying hatchnb's migration lock
_MIGRATION_LOCK = 7_413_902_118
SCHEMA_VERSION = max(version for version, _, _ in queries.migrations())


def current_version(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    row = conn.execute(queries.get("schema_exists")).fetchone()
    if not row or not row[0]:
        return 0
    row = conn.execute(queries.get("schema_version")).fetchone()
    return int(row[0]) if row else 0  # type: ignore[call-overload]


def migrate(dsn: str) -> int:
    """Bring the schema up to date; returns the schema version. Safe to call concurrently."""
    with wrap_errors(), psycopg.connect(dsn, autocommit=True) as conn:
        if current_version(conn) == SCHEMA_VERSION:
            return SCHEMA_VERSION
        conn.execute("SELECT pg_advisory_lock(%s)", (_MIGRATION_LOCK,))
        try:
            return _apply_pending(conn)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_MIGRATION_LOCK,))


def _apply_pending(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise errors.SchemaTooNew(
            f"The database schema is at version {version} but this hatchnb knows only up to "
            f"{SCHEMA_VERSION}; upgrade hatchnb (pip install -U hatchnb) on this machine."
        )
    for number, _name, sql in queries.migrations():
        if number <= version:
            continue
        with conn.transaction():
            conn.execute(sql)
            conn.execute(queries.get("record_migration"), {"version": number})
    return SCHEMA_VERSION
