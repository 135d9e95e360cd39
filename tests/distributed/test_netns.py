"""A worker on another host loses its network: two network namespaces joined by a veth
pair (nothing else, no default route), PostgreSQL and a local worker in one, a remote
worker in the other. The link is cut on the database side (the remote side sees silence,
not a reset) for longer than HATCHNB_WORKER_TIMEOUT, then restored."""

from __future__ import annotations

import collections
import contextlib
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from hatchnb import Context, DesiredWorkerLabel, EmptyModel, Hatchet
from tests.conftest import FAST_SETTINGS, wait_until
from tests.distributed.cluster import Cluster, Process, started

pytestmark = [pytest.mark.integration, pytest.mark.workers, pytest.mark.netns]

DB_ADDRESS, WORKER_ADDRESS, NETWORK = "10.213.0.1", "10.213.0.2", "10.213.0.0/30"
WORKER_TIMEOUT = "3"
SETTINGS = {**FAST_SETTINGS, "HATCHNB_WORKER_TIMEOUT": WORKER_TIMEOUT}


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


class Link:
    """Two namespaces and the veth pair between them, all named after one random tag."""

    def __init__(self) -> None:
        tag = uuid.uuid4().hex[:6]
        self.db_ns, self.worker_ns = f"hnb-db-{tag}", f"hnb-w-{tag}"
        self.db_dev, self.worker_dev = f"hnbd{tag}", f"hnbw{tag}"
        self.created: list[str] = []

    def create(self) -> None:
        for ns in (self.db_ns, self.worker_ns):
            self._must("netns", "add", ns)
            self.created.append(ns)
        self._must("link", "add", self.db_dev, "type", "veth", "peer", "name", self.worker_dev)
        self._must("link", "set", self.db_dev, "netns", self.db_ns)
        self._must("link", "set", self.worker_dev, "netns", self.worker_ns)
        for ns, dev, address in (
            (self.db_ns, self.db_dev, DB_ADDRESS),
            (self.worker_ns, self.worker_dev, WORKER_ADDRESS),
        ):
            self._must("-n", ns, "addr", "add", f"{address}/30", "dev", dev)
            self._must("-n", ns, "link", "set", dev, "up")
            self._must("-n", ns, "link", "set", "lo", "up")

    def cut(self) -> None:
        self._must("-n", self.db_ns, "link", "set", self.db_dev, "down")

    def restore(self) -> None:
        self._must("-n", self.db_ns, "link", "set", self.db_dev, "up")

    def destroy(self) -> None:
        """Kill whatever still runs inside (only this test's processes can), then delete the
        namespaces, which deletes the veth pair with them."""
        for ns in self.created:
            for pid in _ip("netns", "pids", ns).stdout.split():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
            _ip("netns", "del", ns)
        self.created.clear()

    @staticmethod
    def _must(*args: str) -> None:
        done = _ip(*args)
        if done.returncode != 0:
            raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")


def _netns_usable() -> str | None:
    """Why network namespaces cannot be used here, or None."""
    if shutil.which("ip") is None:
        return "no `ip` binary (iproute2) to create network namespaces"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_NET_ADMIN); running as a user"
    probe = f"hnb-probe-{uuid.uuid4().hex[:6]}"
    done = _ip("netns", "add", probe)
    if done.returncode != 0:
        return f"`ip netns add` failed: {done.stderr.strip()}"
    _ip("netns", "del", probe)
    return None


@pytest.fixture
def link() -> Iterator[Link]:
    reason = _netns_usable()
    if reason:
        pytest.skip(reason)
    pair = Link()
    try:
        pair.create()
        yield pair
    finally:
        pair.destroy()


@pytest.fixture
def cluster(link: Link) -> Iterator[Cluster]:
    server = Cluster(listen=(DB_ADDRESS, "127.0.0.1"), port=5432, netns=link.db_ns, clients=NETWORK)
    with started(server):
        yield server


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    started: list[Process] = []
    yield started
    for proc in started:
        proc.stop()


def _declare(hatchet: Hatchet) -> tuple[Any, Any]:
    @hatchet.task(name="nap", execution_timeout="120s")
    def nap(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        import os
        import time

        extra = input.model_extra or {}
        time.sleep(extra["seconds"])
        with open(extra["marks"], "a") as marks:
            marks.write(f"{extra['n']} {os.getpid()}\n")
        return {"n": extra["n"], "pid": os.getpid()}

    @hatchet.task(
        name="remote_only",
        execution_timeout="60s",
        desired_worker_labels={"zone": DesiredWorkerLabel(value="remote", required=True)},
    )
    def remote_only(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        import os

        return {"pid": os.getpid()}

    return nap, remote_only


def _query(dsn: str, sql: str, *params: Any) -> list[dict[str, Any]]:
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        return conn.execute(sql, params).fetchall()


def _leader_pid(dsn: str) -> int | None:
    rows = _query(
        dsn,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND a.application_name LIKE 'hatchnb-engine-%%'",
    )
    return int(rows[0]["application_name"].rsplit("-", 1)[1]) if rows else None


def _worker(dsn: str, pid: int) -> dict[str, Any]:
    rows = _query(
        dsn,
        "SELECT status, now() - last_heartbeat_at AS silence FROM hatchnb.workers WHERE pid = %s",
        pid,
    )
    return rows[0] if rows else {}


def _running_on(dsn: str) -> dict[int, int]:
    rows = _query(
        dsn,
        "SELECT w.pid, count(*) AS n FROM hatchnb.task_runs t JOIN hatchnb.workers w "
        "ON w.id = t.worker_id WHERE t.status = 'RUNNING' GROUP BY w.pid",
    )
    return {r["pid"]: r["n"] for r in rows}


def _statuses(dsn: str) -> dict[str, int]:
    rows = _query(dsn, "SELECT status, count(*) AS n FROM hatchnb.workflow_runs GROUP BY status")
    return {r["status"]: r["n"] for r in rows}


def test_partitioned_worker_is_declared_dead_its_tasks_finish_elsewhere_and_it_rejoins(
    link: Link, cluster: Cluster, processes: list[Process], tmp_path: Path
) -> None:
    cluster.create_database("hatchnb")
    driver = cluster.socket_dsn("hatchnb")  # the test itself talks through the Unix socket
    hatchet = Hatchet(dsn=driver)
    nap, remote_only = _declare(hatchet)
    hatchet.register(nap)
    hatchet.register(remote_only)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    remote = Process(
        cluster.dsn("hatchnb"),
        workdir,
        ["worker", "--slots", "4", "--label", "zone=remote"],
        SETTINGS,
        netns=link.worker_ns,
    )
    processes.append(remote)
    # the remote worker leads the engine: cutting it off must also hand leadership over
    wait_until(
        lambda: _leader_pid(driver) == remote.pid,
        timeout=30,
        message=f"the remote worker to lead\n{remote.output()}",
    )
    local = Process(
        cluster.dsn("hatchnb", host="127.0.0.1"),
        workdir,
        ["worker", "--slots", "4", "--label", "zone=local"],
        SETTINGS,
        netns=link.db_ns,
    )
    processes.append(local)
    wait_until(
        lambda: _worker(driver, local.pid),
        timeout=30,
        message=f"the local worker to register\n{local.output()}",
    )

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
    dead_after = time.monotonic() - cut_at
    wait_until(
        lambda: _statuses(driver) == {"SUCCEEDED": 8},
        timeout=40,
        message="the remote worker's tasks to finish on the local worker",
    )
    done_after = time.monotonic() - cut_at
    outputs = _query(driver, "SELECT output FROM hatchnb.task_runs WHERE task_name = 'nap'")
    assert collections.Counter(r["output"]["pid"] for r in outputs) == {local.pid: 8}
    assert _leader_pid(driver) == local.pid

    link.restore()
    restored_at = time.monotonic()
    cut_for = restored_at - cut_at
    wait_until(
        lambda: (
            (w := _worker(driver, remote.pid))["status"] == "ACTIVE"
            and w["silence"].total_seconds() < 1
        ),
        timeout=40,
        message=f"the remote worker to heartbeat again\n{remote.output()}",
    )
    rejoined_after = time.monotonic() - restored_at
    assert remote_only.run() == {"pid": remote.pid}  # it takes new work

    text = remote.output()
    assert remote.alive() and local.alive(), text + local.output()
    assert "lost the database at postgresql://postgres@10.213.0.1:5432/hatchnb" in text, text
    assert "reconnected to the database after" in text, text
    assert "declared this worker dead" in text, text
    assert len([line for line in text.splitlines() if "WARNING" in line]) <= 8, text
    executions = collections.Counter(
        int(line.split()[0]) for line in marks.read_text().splitlines()
    )
    assert set(executions) == set(range(8))
    print(
        f"\nlink cut {cut_for:.1f}s; remote declared dead after {dead_after:.1f}s; its tasks "
        f"done elsewhere after {done_after:.1f}s; rejoined {rejoined_after:.1f}s after the "
        f"link came back; executions {sum(executions.values())} for 8 tasks\n{text}"
    )
    hatchet.close()
