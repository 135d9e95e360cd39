"""The store's parts that need no server: the named-SQL loader, URLs shown in messages,
connection liveness settings, and how connection failures are reported."""

from __future__ import annotations

import psycopg
import pytest

from hatchnb import errors
from hatchnb.store import queries
from hatchnb.store.db import liveness_params, redact, wrap_errors


def test_text_before_the_first_name_is_ignored() -> None:
    assert queries.parse("-- a file comment\n-- name: q\n-- d\nSELECT 1;") == {
        "q": "-- d\nSELECT 1;"
    }


def test_a_file_without_names_has_no_queries() -> None:
    assert queries.parse("SELECT 1;") == {}


def test_a_name_repeated_in_one_file_is_refused() -> None:
    with pytest.raises(ValueError, match="defines a query name twice"):
        queries.parse("-- name: q\nSELECT 1;\n-- name: q\nSELECT 2;")


def test_a_name_header_must_be_the_whole_line() -> None:
    assert list(queries.parse("-- name: q extra\nSELECT 1;")) == []


def test_an_unknown_query_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        queries.get("no_such_query_anywhere")


def test_every_loaded_query_has_sql_after_its_description() -> None:
    for name, body in queries.all_queries().items():
        first, *rest = body.splitlines()
        assert first.startswith("-- "), name
        assert any(line.strip() and not line.lstrip().startswith("--") for line in rest), name


def test_migrations_have_unique_versions() -> None:
    versions = [version for version, _, _ in queries.migrations()]
    assert versions and len(versions) == len(set(versions))


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:p%40ss@h:5432/db", "postgresql://u:***@h:5432/db"),
        (
            "postgres://u:pw@h/db?sslmode=require&password=x",
            "postgres://u:***@h/db?sslmode=require&password=***",
        ),
        ("postgresql://h/db", "postgresql://h/db"),
        ("host=h dbname=x", "host=h dbname=x"),
    ],
)
def test_passwords_are_hidden(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_a_short_timeout_is_raised_to_two_seconds() -> None:
    params = liveness_params("postgresql://h/db", "", dead_after=0.5)
    assert params["tcp_user_timeout"] == 2000
    assert params["connect_timeout"] == 10
    assert (params["keepalives_idle"], params["keepalives_interval"]) == (1, 1)


def test_a_long_timeout_spaces_the_keepalives() -> None:
    params = liveness_params("postgresql://h/db", "", dead_after=60)
    assert (
        params["keepalives_idle"],
        params["keepalives_interval"],
        params["keepalives_count"],
    ) == (20, 10, 3)
    assert params["connect_timeout"] == 60


def test_the_worker_timeout_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_WORKER_TIMEOUT", "9")
    assert liveness_params("postgresql://h/db", "")["tcp_user_timeout"] == 9000


def test_options_in_the_url_come_last() -> None:
    params = liveness_params("postgresql://h/db?options=-c%20work_mem%3D64MB", "-c jit=off", 6)
    options = params["options"]
    assert options.startswith("-c jit=off ")
    assert options.endswith("-c work_mem=64MB")


def test_keepalives_in_the_url_win() -> None:
    params = liveness_params("postgresql://h/db?keepalives_idle=99", "", 6)
    assert "keepalives_idle" not in params and params["keepalives_interval"] == 1


def test_a_lost_connection_is_database_unavailable_naming_the_hidden_url() -> None:
    with pytest.raises(errors.DatabaseUnavailable) as raised, wrap_errors("postgresql://u:pw@h/db"):
        raise psycopg.OperationalError("connection refused\nIs the server running?")
    message = str(raised.value)
    assert "check HATCHNB_DATABASE_URL" in message
    assert "(postgresql://u:***@h/db: connection refused)" in message
    assert "pw@" not in message


def test_other_errors_pass_through() -> None:
    with pytest.raises(KeyError), wrap_errors("postgresql://h/db"):
        raise KeyError("x")


def test_through_a_pooler_sessions_go_direct_and_pool_connections_prepare_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from hatchnb.store import db

    pooled, direct = "postgresql://app@bouncer:6432/app", "postgresql://app@pg:5432/app"
    monkeypatch.setenv("HATCHNB_DATABASE_URL", pooled)
    monkeypatch.delenv("HATCHNB_DATABASE_DIRECT_URL", raising=False)
    assert db.direct_dsn(pooled) == pooled and not db.pooled(pooled)
    unpooled = db.pool_params(pooled, db.NO_JIT)
    assert "prepare_threshold" not in unpooled and unpooled["options"].startswith(db.NO_JIT)
    monkeypatch.setenv("HATCHNB_DATABASE_DIRECT_URL", direct)
    assert db.direct_dsn(pooled) == direct and db.pooled(pooled)
    params = db.pool_params(pooled, db.NO_JIT)
    assert params["prepare_threshold"] is None and "options" not in params
    assert db.direct_dsn("postgresql://other/db") == "postgresql://other/db"  # not the pooled one
