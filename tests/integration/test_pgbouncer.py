"""hatchnb through a real PgBouncer in transaction mode: the client's and the worker's
statements go through the pooler (no server-side prepared statements, no startup options),
LISTEN and the session locks (engine leader, migrations) go straight to the server
(HATCHNB_DATABASE_DIRECT_URL). The whole engine test set also runs this way in CI
(HATCHNB_TEST_PGBOUNCER=1, see .ci/run)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from hatchnb import Context, DurableContext, EmptyModel, Hatchet
from tests import pgbouncer
from tests.conftest import ADMIN_DSN

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not pgbouncer.available(), reason="needs pgbouncer (apt-get install)"),
]


@pytest.fixture
def pooled(dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, int]]:
    """The test database's URL through a PgBouncer of this test's own, and its port."""
    if pgbouncer.server_of(dsn) != pgbouncer.server_of(ADMIN_DSN):
        pytest.skip("the suite already runs through PgBouncer")
    with pgbouncer.running(*pgbouncer.server_of(ADMIN_DSN)) as port:
        url = pgbouncer.through(dsn, port)
        monkeypatch.setenv("HATCHNB_DATABASE_URL", url)
        monkeypatch.setenv("HATCHNB_DATABASE_DIRECT_URL", dsn)
        yield url, port


def _admin(port: int, command: str) -> list[dict[str, Any]]:
    """PgBouncer's admin console (simple query protocol only)."""
    from psycopg.rows import dict_row

    url = f"host=127.0.0.1 port={port} dbname=pgbouncer user=postgres"
    with psycopg.connect(
        url, autocommit=True, cursor_factory=psycopg.ClientCursor, row_factory=dict_row
    ) as conn:
        return conn.execute(command).fetchall()


def test_a_dag_and_a_durable_wait_run_through_pgbouncer(pooled: tuple[str, int], dsn: str) -> None:
    url, port = pooled
    hatchet = Hatchet(dsn=url)
    wf = hatchet.workflow(name="pooled")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[first])
    def second(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": ctx.task_output(first)["n"] + 1}

    @hatchet.durable_task()
    async def waits(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("pooled:go")

    worker = hatchet.worker("pooled-worker", slots=4, workflows=[wf, waits])
    worker.start_background()
    try:
        for _ in range(3):  # more than once: a prepared statement would break the second
            assert wf.run()["second"] == {"n": 2}
        ref = waits.run_no_wait()
        # what needs a session went straight to the server: the worker's LISTEN
        # connections are not among the pooler's server connections
        pooler_ports = {row["local_port"] for row in _admin(port, "SHOW SERVERS")}
        with psycopg.connect(dsn, autocommit=True) as conn:
            listening = [
                row[0]
                for row in conn.execute(
                    "SELECT client_port FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'LISTEN%%'"
                )
            ]
        assert listening and not set(listening) & pooler_ports
        hatchet.event.push("pooled:go", {"ok": True})
        assert ref.result(timeout=30) == {"ok": True}
    finally:
        worker.stop(10)
        hatchet.close()
    database = conninfo_to_dict(dsn)["dbname"]
    stats = {row["database"]: row for row in _admin(port, "SHOW STATS")}
    assert stats[database]["total_xact_count"] > 20  # the statements went through it


def test_a_pooler_url_without_the_direct_url_is_a_clear_error(
    pooled: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatchnb import errors

    url, _ = pooled
    monkeypatch.delenv("HATCHNB_DATABASE_DIRECT_URL")
    with pytest.raises(errors.DatabaseUnavailable, match="set HATCHNB_DATABASE_DIRECT_URL"):
        Hatchet(dsn=url).workflows.list()
