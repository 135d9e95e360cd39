"""The migrations: one final definition per object, applied in order, idempotent, and a
database of the pre-release migration chain is refused with a clear message."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb import errors
from hatchnb.store import SCHEMA_VERSION, migrate, queries

pytestmark = pytest.mark.integration


def test_no_versioned_wrapper_functions(db: Any) -> None:
    rows = db.execute(
        "SELECT proname FROM pg_proc WHERE pronamespace = 'hatchnb'::regnamespace"
        " AND proname ~ '_v[0-9]+$'"
    ).fetchall()
    assert rows == []


def _recorded(db: Any) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT version, applied_at FROM hatchnb.schema_version ORDER BY version"
    ).fetchall()
    return rows


def test_each_migration_applies_in_order_and_migrate_is_idempotent(dsn: str, db: Any) -> None:
    db.execute("DROP SCHEMA hatchnb CASCADE")
    for version, name, statements in queries.migrations():
        assert "OR REPLACE" not in statements.upper(), f"{name} redefines something"
        with db.transaction():
            db.execute(statements)
            db.execute("INSERT INTO hatchnb.schema_version (version) VALUES (%s)", (version,))
    recorded = _recorded(db)
    assert [r["version"] for r in recorded] == list(range(1, SCHEMA_VERSION + 1))
    assert migrate(dsn) == SCHEMA_VERSION
    assert migrate(dsn) == SCHEMA_VERSION
    assert _recorded(db) == recorded  # nothing applied again


def test_a_database_of_the_pre_release_chain_must_be_recreated(dsn: str, db: Any) -> None:
    # what 0001_initial ... 0011_trigger_errors recorded: no baseline column
    db.execute("ALTER TABLE hatchnb.schema_version DROP COLUMN baseline")
    db.execute(
        "INSERT INTO hatchnb.schema_version (version) SELECT generate_series(8, 11)"
        " ON CONFLICT DO NOTHING"
    )
    with pytest.raises(errors.ConfigurationError, match=r"DROP SCHEMA hatchnb CASCADE"):
        migrate(dsn)
