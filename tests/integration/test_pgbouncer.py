"""hatchnb through a real PgBouncer in transaction mode: the pools' statements go through it,
the sessions that need a server session of their own (LISTEN, the leader's advisory lock) go
to HATCHNB_DATABASE_DIRECT_URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import dict_row

from hatchnb import Context, EmptyModel, Hatchet
from tests.conftest import Process, wait_until
from tests.pgbouncer import PgBouncer

pytestmark = [pytest.mark.integration, pytest.mark.workers]


@pytest.fixture
def bounced(dsn: str, pgbouncer: PgBouncer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The test database's URL through PgBouncer, its direct URL in the environment."""
    if os.environ.get("HATCHNB_DATABASE_DIRECT_URL"):
        return dsn  # the whole run goes through PgBouncer already
    monkeypatch.setenv("HATCHNB_DATABASE_DIRECT_URL", dsn)
    url = pgbouncer.url(str(conninfo_to_dict(dsn)["dbname"]))
    monkeypatch.setenv("HATCHNB_DATABASE_URL", url)
    return url


@pytest.fixture
def direct(bounced: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(
        os.environ["HATCHNB_DATABASE_DIRECT_URL"], autocommit=True, row_factory=dict_row
    ) as conn:
        yield conn


def _transactions(pgbouncer: PgBouncer, database: str) -> int:
    rows = [row for row in pgbouncer.show("STATS") if row["database"] == database]
    return int(str(rows[0]["total_xact_count"])) if rows else 0


def _pgbouncer_server_ports(pgbouncer: PgBouncer, database: str) -> set[int]:
    return {
        int(str(r["local_port"])) for r in pgbouncer.show("SERVERS") if r["database"] == database
    }


def test_worker_and_engine_run_through_pgbouncer(
    bounced: str, direct: Any, pgbouncer: PgBouncer, tmp_path: Path
) -> None:
    database = str(conninfo_to_dict(bounced)["dbname"])
    hatchet = Hatchet(dsn=bounced)
    try:

        @hatchet.task(name="bounced-add")
        def add(input: EmptyModel, ctx: Context) -> dict[str, int]:
            return {"sum": 40 + 2}

        before = _transactions(pgbouncer, database)
        workdir = tmp_path / "cwd"
        workdir.mkdir()
        worker = Process(bounced, workdir, ["worker", "--slots", "4"], {})
        try:
            assert [add.run()["sum"] for _ in range(5)] == [42] * 5
            # every statement of the pools went through PgBouncer, without prepared statements
            assert _transactions(pgbouncer, database) - before > 20
            assert "prepared statement" not in worker.output()
            # the worker's and the client's LISTEN and the leader lock are direct sessions
            listening = wait_until(
                lambda: direct.execute(
                    "SELECT client_port, query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%'"
                ).fetchall(),
                message="LISTEN sessions",
            )
            leader = direct.execute(
                "SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
            ).fetchall()
            assert leader, "no engine leader holds its advisory lock"
            via_pgbouncer = _pgbouncer_server_ports(pgbouncer, database)
            assert via_pgbouncer, "PgBouncer holds no server connection to the test database"
            ports = {row["client_port"] for row in listening + leader}
            assert not ports & via_pgbouncer, "a session-scoped connection went through PgBouncer"
            assert worker.alive(), worker.output()
        finally:
            worker.stop()
    finally:
        hatchet.close()


def test_a_pooler_url_without_the_direct_url_is_a_clear_error(
    bounced: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatchnb import errors

    if os.environ.get("HATCHNB_TEST_PGBOUNCER") == "1":
        pytest.skip("the whole run goes through PgBouncer with a direct URL")
    monkeypatch.delenv("HATCHNB_DATABASE_DIRECT_URL")
    with pytest.raises(errors.DatabaseUnavailable, match="set HATCHNB_DATABASE_DIRECT_URL"):
        Hatchet(dsn=bounced).workflows.list()
