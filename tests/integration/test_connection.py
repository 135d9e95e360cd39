"""Connecting: unreachable databases and schemas newer than the library are clear errors."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb import Context, EmptyModel, Hatchet, WorkflowRunRef, errors
from hatchnb.store import SCHEMA_VERSION, connect, migrate

pytestmark = pytest.mark.integration


def test_unreachable_database_says_what_to_check() -> None:
    with pytest.raises(errors.DatabaseUnavailable, match="HATCHNB_DATABASE_URL"):
        Hatchet(dsn="postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2")


def test_schema_newer_than_library_is_refused(dsn: str, db: Any) -> None:
    db.execute("INSERT INTO hatchnb.schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
    with pytest.raises(errors.SchemaTooNew, match="upgrade hatchnb"):
        Hatchet(dsn=dsn)


def test_a_migration_numbered_below_the_newest_applied_one_is_still_applied(
    dsn: str, db: Any
) -> None:
    # as if migration 14 had landed after 15 was applied: its table and record are missing
    # (a table nothing else refers to, so dropping it takes nothing else with it)
    db.execute("DROP TABLE hatchnb.debounce_keys")
    db.execute("DELETE FROM hatchnb.schema_version WHERE version = 14")
    assert migrate(dsn) == SCHEMA_VERSION
    table = db.execute("SELECT to_regclass('hatchnb.debounce_keys') AS t").fetchone()
    assert table["t"] is not None
    assert db.execute("SELECT 1 FROM hatchnb.schema_version WHERE version = 14").fetchone()


def test_connections_of_their_own_notice_a_dead_peer(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the engine's thread connections, the run waiter, alerts and retention use connect()
    monkeypatch.setenv("HATCHNB_WORKER_TIMEOUT", "6")
    with connect(dsn, autocommit=True) as conn:
        assert conn.info.get_parameters()["tcp_user_timeout"] == "6000"
        assert conn.info.get_parameters()["keepalives_idle"] == "2"
        row = conn.execute("SHOW tcp_user_timeout").fetchone()  # the server drops us too
        assert row is not None and row[0] == "6000"  # milliseconds


def test_run_without_waiting_returns_a_ref(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def one(input: EmptyModel, ctx: Context) -> int:
        return 1

    start_worker(one)
    ref = one.run(wait_for_result=False)
    assert isinstance(ref, WorkflowRunRef)
    output: Any = ref.result(timeout=10)  # a standalone task's ref gives its output
    assert output == 1
    assert hatchet.runs.get_status(ref.workflow_run_id) == "SUCCEEDED"


def test_background_worker_that_cannot_start_raises(hatchet: Any) -> None:
    import threading

    lock = threading.Lock()

    @hatchet.task()
    def holds_lock(input: EmptyModel, ctx: Context) -> bool:
        return lock.locked()

    worker = hatchet.worker("broken", workflows=[holds_lock])
    with pytest.raises(errors.SerializationError, match="must not capture"):
        worker.start_background()


def test_workers_are_listed_with_slots_labels_and_status(hatchet: Any) -> None:
    worker = hatchet.worker("listed", slots=3, labels={"gpu": 1})
    worker.start_background()
    try:
        [record] = hatchet.workers.list()
        assert (record.name, record.slots, record.label_map, record.status) == (
            "listed",
            3,
            {"gpu": 1},
            "ACTIVE",
        )
        [label] = record.labels  # hatchet_sdk's shape: objects with a key and a value
        assert (label.key, label.value) == ("gpu", 1)
    finally:
        worker.stop(10)
    assert hatchet.workers.list()[0].status == "STOPPED"
