"""HATCHNB_DATABASE_READ_URL: lists and metrics read a real streaming replica (a
``pg_basebackup -R`` copy of a throwaway primary); a replica that cannot be reached sends
them back to the primary; reads right after a write stay on the primary."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from hatchnb import Context, EmptyModel, Hatchet
from tests.conftest import FAST_SETTINGS, wait_until
from tests.distributed.cluster import Cluster, free_port, started

pytestmark = [pytest.mark.integration]


class Replica(Cluster):
    """A streaming replica of ``primary`` (hot standby), in its own temporary folder."""

    def __init__(self, primary: Cluster) -> None:
        self.bindir, self.user_prefix = primary.bindir, primary.user_prefix
        self.listen, self.host, self.port = ("127.0.0.1",), "127.0.0.1", free_port()
        self.netns, self.clients = "", ""
        self.root = Path(tempfile.mkdtemp(prefix="hatchnb-replica-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        if self.user_prefix:
            shutil.chown(self.root, "postgres")
        self._run(
            "pg_basebackup",
            *("-D", str(self.data), "-R", "-X", "stream", "--no-sync"),
            *("-h", primary.host, "-p", str(primary.port), "-U", "postgres"),
        )
        self._configure()

    def sql(self, statement: str) -> None:
        with psycopg.connect(self.socket_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(statement)

    def caught_up_with(self, primary: Cluster) -> bool:
        """Replayed everything the primary has written so far (its migrations included)."""
        with psycopg.connect(primary.socket_dsn(), autocommit=True) as conn:
            row = conn.execute("SELECT pg_current_wal_lsn()").fetchone()
        with psycopg.connect(self.socket_dsn(), autocommit=True) as conn:
            caught = conn.execute(
                "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0] if row else None,)
            ).fetchone()
        return bool(caught and caught[0])


@pytest.fixture(scope="module")
def primary() -> Iterator[Cluster]:
    with started(Cluster()) as server:
        yield server


@pytest.fixture
def replica(primary: Cluster) -> Iterator[Replica]:
    with started(Replica(primary)) as server:
        yield server  # type: ignore[misc]


def test_lists_read_the_replica_and_fall_back_to_the_primary(
    primary: Cluster, replica: Replica, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"replica_{uuid.uuid4().hex[:10]}"
    url = primary.create_database(name)
    for key, value in {**FAST_SETTINGS, "HATCHNB_DATABASE_URL": url}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("HATCHNB_DATABASE_READ_URL", replica.dsn(name))
    hatchet = Hatchet(dsn=url)
    try:

        @hatchet.task(name="replicated")
        def replicated(input: EmptyModel, ctx: Context) -> None:
            return None

        first = [replicated.run_no_wait().workflow_run_id for _ in range(3)]
        # the schema too arrives by replay: a loaded machine can lag behind the migrations
        wait_until(lambda: replica.caught_up_with(primary), message="the replica replaying")
        wait_until(lambda: len(hatchet.runs.list().rows) == 3, message="the replica catching up")
        assert hatchet.metrics.queue_depth()["replicated"]["ready"] == 3

        # with replay paused the replica lags: lists are stale, get-by-id is not
        replica.sql("SELECT pg_wal_replay_pause()")
        late = replicated.run_no_wait().workflow_run_id
        assert hatchet.runs.get(late).run.status.name == "QUEUED"  # the primary
        assert {r.metadata.id for r in hatchet.runs.list().rows} == set(first)  # the replica
        replica.sql("SELECT pg_wal_replay_resume()")
        wait_until(lambda: len(hatchet.runs.list().rows) == 4, message="replay resumed")

        # the replica gone: the same reads come from the primary, promptly
        replica.stop()
        another = replicated.run_no_wait().workflow_run_id
        ids = {r.metadata.id for r in hatchet.runs.list().rows}
        assert ids == {*first, late, another}
        assert len(hatchet.workers.list().rows) == 0
        assert hatchet.metrics.queue_depth()["replicated"]["ready"] == 5
    finally:
        hatchet.close()
