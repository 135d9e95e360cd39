"""A worker on another host reaches PostgreSQL through PgBouncer (transaction mode) and
directly for its sessions, then loses its network: its tasks are reassigned to the
database-side worker, nothing is lost, and it rejoins. Same namespaces as test_netns."""

from __future__ import annotations

import collections
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hatchnb import Hatchet
from tests.conftest import wait_until
from tests.distributed.cluster import Cluster, Process
from tests.distributed.test_netns import (
    DB_ADDRESS,
    SETTINGS,
    Link,
    _declare,
    _leader_pid,
    _running_on,
    _statuses,
    _worker,
    cluster,  # noqa: F401 (fixture)
    link,  # noqa: F401 (fixture)
    processes,  # noqa: F401 (fixture)
)
from tests.pgbouncer import PGBOUNCER, PgBouncer

pytestmark = [pytest.mark.integration, pytest.mark.workers, pytest.mark.netns]

POOLER_PORT = 6432


@pytest.fixture
def pooler(link: Link, cluster: Cluster) -> Iterator[PgBouncer]:  # noqa: F811
    """PgBouncer on the database host, in front of its PostgreSQL."""
    if not Path(PGBOUNCER).exists():
        pytest.skip(f"no {PGBOUNCER} (apt-get install pgbouncer)")
    bouncer = PgBouncer(
        cluster.dsn("postgres", host="127.0.0.1"),
        listen=f"{DB_ADDRESS},127.0.0.1",
        netns=link.db_ns,
        port=POOLER_PORT,
    )
    yield bouncer
    bouncer.stop()


def _transactions(pooler: PgBouncer) -> int:
    rows = [r for r in pooler.show("STATS") if r["database"] == "hatchnb"]
    return int(str(rows[0]["total_xact_count"])) if rows else 0


def test_a_partitioned_worker_behind_pgbouncer_loses_nothing(
    link: Link,  # noqa: F811
    cluster: Cluster,  # noqa: F811
    pooler: PgBouncer,
    processes: list[Process],  # noqa: F811
    tmp_path: Path,
) -> None:
    cluster.create_database("hatchnb")
    driver = cluster.socket_dsn("hatchnb")
    hatchet = Hatchet(dsn=driver)
    nap, remote_only = _declare(hatchet)
    hatchet.register(nap)
    hatchet.register(remote_only)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    pooled = f"postgresql://postgres@{DB_ADDRESS}:{POOLER_PORT}/hatchnb"
    remote = Process(
        pooled,
        workdir,
        ["worker", "--slots", "4", "--label", "zone=remote"],
        {**SETTINGS, "HATCHNB_DATABASE_DIRECT_URL": cluster.dsn("hatchnb")},
        netns=link.worker_ns,
    )
    processes.append(remote)
    wait_until(lambda: _worker(driver, remote.pid), timeout=30, message=remote.output())
    local = Process(
        cluster.dsn("hatchnb", host="127.0.0.1"),
        workdir,
        ["worker", "--slots", "4", "--label", "zone=local"],
        SETTINGS,
        netns=link.db_ns,
    )
    processes.append(local)
    wait_until(lambda: _worker(driver, local.pid), timeout=30, message=local.output())
    assert remote_only.run() == {"pid": remote.pid}  # through PgBouncer
    assert _transactions(pooler) > 0  # only the remote worker uses the pooler

    marks = tmp_path / "marks.txt"
    marks.touch()
    nap.run_many_no_wait(
        [nap.create_bulk_run_item({"n": n, "seconds": 4, "marks": str(marks)}) for n in range(8)]
    )
    wait_until(
        lambda: _running_on(driver) == {remote.pid: 4, local.pid: 4},
        timeout=30,
        message="four tasks running on each worker",
    )
    link.cut()
    cut_at = time.monotonic()
    wait_until(
        lambda: _worker(driver, remote.pid)["status"] == "DEAD",
        timeout=40,
        message=f"the remote worker to be declared dead\n{local.output()}",
    )
    wait_until(
        lambda: _statuses(driver) == {"SUCCEEDED": 9},
        timeout=40,
        message="the remote worker's tasks to finish on the local worker",
    )
    reassigned_after = time.monotonic() - cut_at
    assert _leader_pid(driver) == local.pid

    link.restore()
    wait_until(
        lambda: _worker(driver, remote.pid)["status"] == "ACTIVE",
        timeout=40,
        message=f"the remote worker to heartbeat again\n{remote.output()}",
    )
    assert remote_only.run() == {"pid": remote.pid}  # it takes new work again
    executions = collections.Counter(
        int(line.split()[0]) for line in marks.read_text().splitlines()
    )
    assert set(executions) == set(range(8)), executions
    assert remote.alive() and local.alive(), remote.output() + local.output()
    print(f"\ntasks of the cut-off worker done elsewhere {reassigned_after:.1f} s after the cut")
    hatchet.close()
