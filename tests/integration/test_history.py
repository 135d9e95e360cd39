"""Run history (migration 0022): finished run trees move to day-partitioned history tables
and every read returns what it did before; live trees stay; retention drops whole days;
replay restores an archived tree; the engine creates partitions ahead and archives."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from hatchnb import Context, EmptyModel, Hatchet
from hatchnb.store import history
from hatchnb.store.db import Store
from hatchnb.store.retention import prune
from hatchnb.store.runs import RunFilter, RunsRepo
from tests.conftest import wait_until
from tests.integration.test_retention import PER_RUN, age

pytestmark = pytest.mark.integration

HOUR = timedelta(hours=1)
MONTH = timedelta(days=30)
JUST_NOW = timedelta(milliseconds=1)
#: one archive batch, run in a transaction the test holds open
ARCHIVE_IN_FLIGHT = (
    "SELECT runs FROM hatchnb.archive_runs(now() - interval '1 hour', 10, NULL, NULL)"
)


@pytest.fixture(autouse=True)
def no_engine_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process workers' engines must not archive or prune on their own (the engine test
    turns archiving on for its worker)."""
    monkeypatch.setenv("HATCHNB_ARCHIVE_AFTER", "off")
    monkeypatch.setenv("HATCHNB_RETENTION", "off")


def hot_rows(db: psycopg.Connection[Any], run_ids: list[str]) -> dict[str, int]:
    return {t: db.execute(q, {"ids": run_ids}).fetchone()["n"] for t, q in PER_RUN.items()}


def history_rows(db: psycopg.Connection[Any], run_ids: list[str]) -> dict[str, int]:
    """hot_rows, in the history tables."""
    out = {}
    for table, query in PER_RUN.items():
        query = re.sub(r"hatchnb\.(\w+)", r"hatchnb.\1_history", query)
        out[table] = db.execute(query, {"ids": run_ids}).fetchone()["n"]
    return out


def counting_store(dsn: str) -> tuple[Store, list[str]]:
    """A store that notes the name of every query it runs."""
    store = Store(dsn)
    statements: list[str] = []
    fetch_all, fetch_one = store.fetch_all, store.fetch_one

    def all_rows(query: str, **params: Any) -> list[dict[str, Any]]:
        statements.append(query)
        return fetch_all(query, **params)

    def one_row(query: str, **params: Any) -> dict[str, Any] | None:
        statements.append(query)
        return fetch_one(query, **params)

    store.fetch_all = all_rows  # type: ignore[method-assign]
    store.fetch_one = one_row  # type: ignore[method-assign]
    return store, statements


def children_of(db: psycopg.Connection[Any], run_id: str) -> list[str]:
    rows = db.execute(
        "SELECT c.id FROM hatchnb.workflow_runs_all c JOIN hatchnb.task_runs_all t"
        " ON t.id = c.parent_task_run_id WHERE t.run_id = %s",
        (run_id,),
    )
    return [str(r["id"]) for r in rows]


def reads(hatchet: Hatchet, run_id: str) -> dict[str, Any]:
    """What the run page, the list and the SDK calls show of one run."""
    since = datetime.now(UTC) - timedelta(days=2)
    listed = hatchet.runs.list(since=since, limit=50)
    page = hatchet.runs.list_with_pagination(since=since, limit=50)
    return {
        "get": hatchet.runs.get(run_id),
        "details": hatchet.runs.get_details(run_id),
        "status": hatchet.runs.get_status(run_id),
        "result": hatchet.runs.get_result(run_id),
        "logs": hatchet.runs.logs(run_id),
        "attempts": hatchet.runs.attempts(run_id),
        "listed": [r for r in listed if str(r.workflow_run_id) == run_id],
        "page": [r for r in page if str(r.workflow_run_id) == run_id],
        "count": hatchet.runs.count(since=since),
        "status counts": hatchet.runs.status_counts(since=since, cap=100),
        "status counts of etl": hatchet.runs.status_counts(
            since=since, workflow_names=["etl"], cap=100
        ),
        "status counts of leaf, uncapped": hatchet.runs.status_counts(
            since=since, workflow_names=["leaf"]
        ),
    }


@pytest.fixture
def dag_with_child(hatchet: Hatchet, start_worker: Callable[..., Any]) -> Any:
    @hatchet.task(name="leaf")
    def leaf(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("leaf working")
        return {"leaf": 1}

    wf = hatchet.workflow(name="etl")

    @wf.task()
    def extract(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("extracting")
        return {"n": leaf.run()["leaf"] + 1}

    @wf.task(parents=[extract])
    def load(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("loading")
        return {"rows": ctx.task_output(extract)["n"] * 10}

    start_worker(wf, leaf)
    return wf


def test_an_archived_dag_run_reads_the_same(
    hatchet: Hatchet, db: psycopg.Connection[Any], dag_with_child: Any
) -> None:
    ref = dag_with_child.run_no_wait()
    assert ref.result(timeout=20) == {"extract": {"n": 2}, "load": {"rows": 20}}
    run_id = str(ref.workflow_run_id)
    [child] = children_of(db, run_id)
    tree = [run_id, child]
    before = {r: reads(hatchet, r) for r in tree}
    stored = hot_rows(db, tree)
    assert stored["task_logs"] == 3 and stored["task_attempts"] == 3

    report = history.archive(hatchet.dsn, JUST_NOW)  # no ageing: every time stays the same

    assert (report.runs, report.task_runs) == (2, 3)
    assert hot_rows(db, tree) == dict.fromkeys(PER_RUN, 0)
    assert history_rows(db, tree) == stored
    assert {r: reads(hatchet, r) for r in tree} == before
    assert before[run_id]["status counts of etl"] == {"SUCCEEDED": 1}
    assert hatchet.runs.get_details(run_id).task_runs["load"].output == {"rows": 20}
    assert history.archive(hatchet.dsn, JUST_NOW).runs == 0
    hatchet.runs.cancel(run_id)  # a finished run: nothing to cancel, archived or not
    assert hatchet.runs.get_status(run_id) == "SUCCEEDED"


def test_live_runs_and_their_parents_stay_hot(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="unserved")
    def unserved(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(name="spawner")
    def spawner(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"child": str(unserved.run_no_wait())}  # nobody serves it: it stays QUEUED

    start_worker(spawner)
    parent = spawner.run_no_wait()
    parent.result(timeout=15)
    queued = unserved.run_no_wait()
    [child] = children_of(db, str(parent))
    age(db, [str(parent), child, str(queued)], days=1)

    assert history.archive(hatchet.dsn, HOUR).runs == 0
    assert hot_rows(db, [str(parent), child, str(queued)])["workflow_runs"] == 3

    hatchet.runs.cancel(child)  # now the whole tree is finished, and it goes together
    db.execute(
        "UPDATE hatchnb.workflow_runs SET finished_at = now() - interval '2 hours' WHERE id = %s",
        (child,),
    )
    assert history.archive(hatchet.dsn, HOUR).runs == 2
    assert history_rows(db, [str(parent), child])["workflow_runs"] == 2
    assert hot_rows(db, [str(queued)])["workflow_runs"] == 1


def test_retention_drops_whole_history_days(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="logged")
    def logged(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("working")
        return {"ok": 1}

    start_worker(logged)
    refs = [logged.run_no_wait() for _ in range(3)]
    for ref in refs:
        ref.result(timeout=15)
    old, recent = [str(r) for r in refs[:2]], [str(refs[2])]
    age(db, old, days=40)
    age(db, recent, days=1)
    history.archive(hatchet.dsn, HOUR)
    old_day = (datetime.now(UTC) - timedelta(days=40)).date()
    assert old_day in history.partition_days(hatchet.dsn)
    expected = history_rows(db, old)
    assert expected["workflow_runs"] == 2 and expected["task_logs"] == 2

    dry = hatchet.runs.prune(older_than=MONTH, dry_run=True)
    assert {t: dry.counts[t] for t in PER_RUN} == expected
    assert old_day in dry.history_days
    cli = subprocess.run(
        [sys.executable, "-m", "hatchnb", "prune", "--dry-run", "--older-than", "30d"],
        env={**os.environ, "HATCHNB_DATABASE_URL": hatchet.dsn},
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"history partitions would drop: {len(dry.history_days)} days" in cli.stdout
    report = prune(hatchet.dsn, MONTH)

    assert {t: report.counts[t] for t in PER_RUN} == expected
    assert old_day in report.history_days
    assert old_day not in history.partition_days(hatchet.dsn)
    partition = f"hatchnb.workflow_runs_history_p{old_day:%Y%m%d}"
    assert db.execute("SELECT to_regclass(%s) AS t", (partition,)).fetchone()["t"] is None
    assert history_rows(db, recent)["workflow_runs"] == 1
    assert [str(r.workflow_run_id) for r in hatchet.runs.list(since=old_day_start())] == recent


def old_day_start() -> datetime:
    return datetime.now(UTC) - timedelta(days=60)


def test_default_partition_rows_are_pruned_row_by_row(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="plain")
    def plain(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(plain)
    ref = plain.run_no_wait()
    ref.result(timeout=15)
    run_id = str(ref)
    age(db, [run_id], days=40)
    day = (datetime.now(UTC) - timedelta(days=40)).date()
    # a day whose partition was never made (and cannot be made for it) lands in the default
    db.execute("SELECT hatchnb.create_history_partition(%s)", (day + timedelta(days=1),))
    db.execute(
        "INSERT INTO hatchnb.workflow_runs_history_default SELECT r.*, r.finished_at, r.id"
        " FROM hatchnb.workflow_runs r WHERE r.id = %s",
        (run_id,),
    )
    db.execute("DELETE FROM hatchnb.workflow_runs WHERE id = %s", (run_id,))
    # what the archive records of a run it moves (migration 0026)
    db.execute(
        "INSERT INTO hatchnb.history_id_hours SELECT hatchnb.run_id_hour(id),"
        " (history_at AT TIME ZONE 'UTC')::date"
        " FROM hatchnb.workflow_runs_history_default WHERE id = %s",
        (run_id,),
    )
    db.execute(
        "SELECT hatchnb.count_history_runs(array_agg(created_at), array_agg(workflow_name),"
        " array_agg(status), array_agg(history_at), 1)"
        " FROM hatchnb.workflow_runs_history_default WHERE id = %s",
        (run_id,),
    )
    # that day's partition of workflow_runs can no longer be made: it stays in the default
    created = db.execute("SELECT hatchnb.create_history_partition(%s) AS n", (day,)).fetchone()
    assert created["n"] == len(PER_RUN) - 1
    assert hatchet.runs.get_status(run_id) == "SUCCEEDED"
    now = datetime.now(UTC)
    around: dict[str, Any] = {"since": now - timedelta(days=41), "until": now - timedelta(days=39)}
    assert hatchet.runs.count(**around) == 1
    assert hatchet.runs.prune(older_than=MONTH, dry_run=True).counts["workflow_runs"] == 1
    assert prune(hatchet.dsn, MONTH).counts["workflow_runs"] == 1
    assert history_rows(db, [run_id])["workflow_runs"] == 0
    assert hatchet.runs.count(**around) == 0


def test_replaying_an_archived_run_restores_it_and_runs_again(
    hatchet: Hatchet, db: psycopg.Connection[Any], dag_with_child: Any
) -> None:
    ref = dag_with_child.run_no_wait()
    ref.result(timeout=20)
    run_id = str(ref.workflow_run_id)
    tree = [run_id, *children_of(db, run_id)]
    age(db, tree, days=0.1)
    history.archive(hatchet.dsn, HOUR)
    assert hot_rows(db, tree)["workflow_runs"] == 0

    hatchet.runs.replay(run_id)

    assert history_rows(db, tree) == dict.fromkeys(PER_RUN, 0)
    wait_until(lambda: hatchet.runs.get_status(run_id) == "SUCCEEDED", timeout=20)
    logs = [line["message"] for line in hatchet.runs.logs(run_id)]
    assert logs.count("extracting") == 2  # the first execution's logs came back too
    tree = [run_id, *children_of(db, run_id)]  # the replay spawned its child anew
    assert len(tree) == 3
    age(db, tree, days=0.1)
    assert history.archive(hatchet.dsn, HOUR).runs == len(tree)
    fork = hatchet.runs.fork(run_id, from_task="load")  # also from an archived run
    assert fork.result(timeout=20)["load"] == {"rows": 20}
    assert len(hatchet.runs.forks(run_id)) == 1


def test_a_replay_waits_for_an_archive_in_flight_and_an_archive_skips_a_replay(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="plain")
    def plain(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"ok": 1}

    start_worker(plain)
    refs = [plain.run_no_wait() for _ in range(2)]
    for ref in refs:
        ref.result(timeout=15)
    first, second = (str(r) for r in refs)
    age(db, [first, second], days=0.1)

    # a replay's transaction holds the run: the archive leaves it for later
    with psycopg.connect(hatchet.dsn) as replaying:
        replaying.execute("SELECT 1 FROM hatchnb.workflow_runs WHERE id = %s FOR UPDATE", (first,))
        assert history.archive(hatchet.dsn, HOUR).runs == 1  # only the other one
        replaying.rollback()
    assert hot_rows(db, [first])["workflow_runs"] == 1

    # an archive in flight holds the run: the replay waits, then restores and replays it
    with psycopg.connect(hatchet.dsn) as archiving:
        moved = archiving.execute(ARCHIVE_IN_FLIGHT)
        assert moved.fetchone()[0] == 1
        replay = threading.Thread(target=hatchet.runs.replay, args=(first,))
        replay.start()
        replay.join(timeout=1)
        assert replay.is_alive()  # blocked on the archive's lock
        archiving.commit()
    replay.join(timeout=15)
    assert not replay.is_alive()
    wait_until(lambda: [a["attempt"] for a in hatchet.runs.attempts(first)] == [1, 2], timeout=15)
    assert hatchet.runs.get_status(first) == "SUCCEEDED"


def test_a_cancel_during_an_archive_changes_nothing(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    @hatchet.task(name="plain")
    def plain(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"ok": 1}

    start_worker(plain)
    ref = plain.run_no_wait()
    ref.result(timeout=15)
    run_id = str(ref)
    age(db, [run_id], days=0.1)
    errors: list[BaseException] = []

    def cancel() -> None:
        try:
            hatchet.runs.cancel(run_id)
        except BaseException as exc:
            errors.append(exc)

    with psycopg.connect(hatchet.dsn) as archiving:
        archiving.execute(ARCHIVE_IN_FLIGHT)
        cancelling = threading.Thread(target=cancel)
        cancelling.start()
        cancelling.join(timeout=1)
        archiving.commit()
    cancelling.join(timeout=15)
    assert not cancelling.is_alive() and not errors
    assert history_rows(db, [run_id])["workflow_runs"] == 1
    assert hatchet.runs.get_status(run_id) == "SUCCEEDED"
    assert hatchet.runs.get_result(run_id) == {"plain": {"ok": 1}}
    hatchet.runs.cancel(run_id)  # archived: a no-op, like any finished run
    assert hatchet.runs.get_status(run_id) == "SUCCEEDED"


def test_the_engine_creates_partitions_ahead_and_archives(
    hatchet: Hatchet, db: psycopg.Connection[Any], worker_process: Callable[..., Any]
) -> None:
    @hatchet.task(name="plain")
    def plain(input: EmptyModel, ctx: Context) -> None:
        return None

    ref = plain.run_no_wait()
    proc = worker_process(
        "--slots", "2", HATCHNB_ARCHIVE_AFTER="1h", HATCHNB_ARCHIVE_INTERVAL="0.5"
    )
    ref.result(timeout=20)  # executed by the worker process
    today = datetime.now(UTC).date()
    ahead = {today + timedelta(days=d) for d in range(history.DAYS_AHEAD + 1)}
    wait_until(
        lambda: ahead <= set(history.partition_days(hatchet.dsn)),
        message=f"partitions ahead\n{proc.output()}",
    )
    age(db, [str(ref)], days=0.1)
    wait_until(
        lambda: history_rows(db, [str(ref)])["workflow_runs"] == 1,
        message=f"archived run\n{proc.output()}",
    )
    assert hatchet.runs.get_status(str(ref)) == "SUCCEEDED"


def test_creating_a_partition_gives_up_behind_a_long_read(
    hatchet: Hatchet, db: psycopg.Connection[Any]
) -> None:
    far_day = datetime.now(UTC).date() + timedelta(days=30)
    with psycopg.connect(hatchet.dsn) as reading:
        reading.execute("SELECT count(*) FROM hatchnb.workflow_runs_all")  # holds its lock
        with pytest.raises(psycopg.errors.LockNotAvailable):
            db.execute("SELECT hatchnb.create_history_partition(%s)", (far_day,))
        reading.rollback()
    assert db.execute("SELECT hatchnb.create_history_partition(%s) AS n", (far_day,)).fetchone()[
        "n"
    ] == len(PER_RUN)


def _columns(db: psycopg.Connection[Any], table: str) -> list[str]:
    rows = db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum",
        (f"hatchnb.{table}",),
    ).fetchall()
    return [r["attname"] for r in rows]


@pytest.mark.parametrize("table", sorted(PER_RUN))
def test_history_twins_and_views_keep_every_column_of_the_hot_table(
    db: psycopg.Connection[Any], table: str
) -> None:
    """A later migration that adds a column to a per-run table must add it to the twin and
    recreate the view (0022 wrote both from the columns it saw), or archiving loses it."""
    hot = _columns(db, table)
    twin = [c for c in _columns(db, f"{table}_history") if c not in ("history_at", "history_root")]
    view = [c for c in _columns(db, f"{table}_all") if c != "history_at"]
    assert twin == hot
    assert view == hot


def test_counts_of_archived_runs_come_from_hourly_totals_and_match_the_rows(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    """Counts over archived runs read hourly totals (migration 0026) for whole hours and the
    rows at either end: whatever the range, they equal counting the rows, after an archive,
    a restore (replay) and a retention pass alike."""

    @hatchet.task(name="tick")
    def tick(input: dict[str, int], ctx: Context) -> None:
        if input["i"] % 3 == 0:
            raise RuntimeError("every third fails")

    @hatchet.task(name="tock")
    def tock(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(tick, tock)
    refs = [tick.run_no_wait({"i": i}) for i in range(12)] + [tock.run_no_wait() for _ in range(3)]
    ids = [str(r) for r in refs]
    done = {"SUCCEEDED", "FAILED"}
    wait_until(lambda: all(hatchet.runs.get_status(run_id) in done for run_id in ids))
    # 2 to 50 hours old, 3 h 25 min apart, so ranges cut hours and days in the middle
    for n, run_id in enumerate(ids):
        age(db, [run_id], days=(2 + n * 205 / 60) / 24)
    history.archive(hatchet.dsn, HOUR)
    assert hot_rows(db, ids)["workflow_runs"] == 0
    now = datetime.now(UTC)

    def expected(since: datetime, until: datetime | None, **where: Any) -> dict[str, int]:
        rows = db.execute(
            "SELECT status, count(*) AS n FROM hatchnb.workflow_runs_all"
            " WHERE created_at >= %(since)s"
            " AND (%(until)s::timestamptz IS NULL OR created_at <= %(until)s::timestamptz)"
            " AND (%(wf)s::text[] IS NULL OR workflow_name = ANY (%(wf)s::text[]))"
            " GROUP BY status",
            {"since": since, "until": until, "wf": where.get("workflow_names")},
        )
        return {r["status"]: r["n"] for r in rows}

    def check() -> None:
        for since_h, until_h in [(50, None), (30.5, None), (30.5, 10.25), (20, 19.9), (7, 3)]:
            since = now - timedelta(hours=since_h)
            until = None if until_h is None else now - timedelta(hours=until_h)
            filters: list[dict[str, Any]] = [
                {},
                {"workflow_names": ["tick"]},
                {"workflow_names": ["tock"]},
            ]
            for where in filters:
                want = expected(since, until, **where)
                got = hatchet.runs.status_counts(since=since, until=until, **where)
                assert got == want, (since_h, until_h, where)
                capped = hatchet.runs.status_counts(since=since, until=until, cap=2, **where)
                assert capped == {k: min(v, 2) for k, v in want.items()}
                assert hatchet.runs.count(since=since, until=until, **where) == sum(want.values())
                failed = hatchet.runs.count(since=since, until=until, statuses=["FAILED"], **where)
                assert failed == want.get("FAILED", 0)

    check()
    hatchet.runs.replay(ids[4])  # restores it to the hot tables (and it runs again)
    wait_until(lambda: hatchet.runs.get_status(ids[4]) in ("SUCCEEDED", "FAILED"))
    check()
    totals = db.execute("SELECT coalesce(sum(runs), 0) AS n FROM hatchnb.history_run_counts")
    assert totals.fetchone()["n"] == len(ids) - 1
    # the oldest runs' day (more than 24 h before the cutoff) is dropped, its totals with it
    assert prune(hatchet.dsn, timedelta(hours=24)).counts["workflow_runs"] >= 1
    check()
    left = db.execute("SELECT count(*) AS n FROM hatchnb.workflow_runs_history").fetchone()["n"]
    totals = db.execute("SELECT coalesce(sum(runs), 0) AS n FROM hatchnb.history_run_counts")
    assert totals.fetchone()["n"] == left


def _partitions_read(db: psycopg.Connection[Any], name: str, **params: Any) -> int:
    """How many history partitions one named query reads (EXPLAIN ANALYZE: scans that ran)."""
    from hatchnb.ids import run_id_hours
    from hatchnb.store.queries import get

    run_id = str(params.get("id", params.get("run_id")))
    bounds = db.execute(get("history_range"), {"hours": run_id_hours([run_id])}).fetchone()
    assert bounds is not None
    explain = "EXPLAIN (ANALYZE, FORMAT JSON) " + get(name)
    plan = db.execute(explain, params | bounds).fetchone()
    found: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        relation = node.get("Relation Name", "")
        if "_history_" in relation and node.get("Actual Loops", 0) > 0:
            found.append(relation)
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["QUERY PLAN"][0]["Plan"])
    return len(found)


def test_an_archived_run_read_by_id_reads_only_its_own_days(
    hatchet: Hatchet, db: psycopg.Connection[Any], dag_with_child: Any
) -> None:
    ref = dag_with_child.run_no_wait()
    ref.result(timeout=20)
    run_id = str(ref.workflow_run_id)
    tree = [run_id, *children_of(db, run_id)]
    before = reads(hatchet, run_id)
    age(db, tree, days=0.1)
    history.archive(hatchet.dsn, HOUR)
    today = datetime.now(UTC).date()
    db.execute(
        "SELECT hatchnb.create_history_partitions(%s, %s)", (today - timedelta(days=40), today)
    )
    assert history_rows(db, tree)["workflow_runs"] == len(tree)

    # 41 days of partitions per table: the run's own day (and the default) are read
    assert _partitions_read(db, "get_run", id=run_id) <= 2
    assert _partitions_read(db, "get_run_tasks", run_id=run_id) <= 2
    assert _partitions_read(db, "run_attempts", run_id=run_id) <= 2
    assert _partitions_read(db, "run_logs", run_id=run_id, limit=100) <= 4
    # a hot run of the same hour reads the same days; an id of an hour nothing of which was
    # archived reads only the default partition
    hot = dag_with_child.run_no_wait()
    hot.result(timeout=20)
    assert _partitions_read(db, "get_run", id=str(hot.workflow_run_id)) <= 2
    assert hatchet.runs.get(str(hot.workflow_run_id)).status == "SUCCEEDED"
    three_days_ago = int((datetime.now(UTC) - timedelta(days=3)).timestamp() * 1000)
    unknown = f"{three_days_ago:012x}7000800000000000000{len(tree):01x}"
    assert _partitions_read(db, "get_run", id=str(uuid.UUID(unknown))) <= 1
    assert reads(hatchet, run_id)["logs"] == before["logs"]
    assert hatchet.runs.get(run_id).status == before["get"].status


def test_an_archived_run_read_again_is_read_in_one_statement_where_it_was_found(
    hatchet: Hatchet, db: psycopg.Connection[Any], dag_with_child: Any
) -> None:
    """A run page reads an archived run again and again (tasks, logs, attempts, every
    refresh): once found, its range is remembered, and a read finds it in one statement.
    Restored (replayed), it is hot, which every range reads."""
    ref = dag_with_child.run_no_wait()
    ref.result(timeout=20)
    run_id = str(ref.workflow_run_id)
    tree = [run_id, *children_of(db, run_id)]
    before = Store(hatchet.dsn)
    logs = RunsRepo(before).logs(run_id, 100)
    before.close()
    age(db, tree, days=0.1)
    history.archive(hatchet.dsn, HOUR)
    store, statements = counting_store(hatchet.dsn)
    repo = RunsRepo(store)
    try:
        assert repo.get_run(run_id).status == "SUCCEEDED"
        assert len(statements) == 4  # hot read, range, the run, its tasks
        for read in (lambda: repo.logs(run_id, 100), lambda: repo.attempts(run_id)):
            statements.clear()
            assert read()
            assert len(statements) == 1, statements
        assert repo.logs(run_id, 100) == logs
        statements.clear()  # nothing to find: the range is checked again, not the hot tables
        assert repo.notebooks(run_id) == []
        assert statements == ["run_notebooks", "history_range"]
        db.execute("SELECT hatchnb.restore_runs(%s)", ([run_id],))
        assert hot_rows(db, [run_id])["workflow_runs"] == 1
        statements.clear()
        assert repo.get_run(run_id).status == "SUCCEEDED"
        assert statements == ["get_run", "get_run_tasks"]
    finally:
        store.close()


def test_a_read_by_id_racing_the_archive_of_its_run_still_finds_it(
    hatchet: Hatchet, db: psycopg.Connection[Any], dag_with_child: Any
) -> None:
    """The history range of a run is read before the read itself: when the archive moves the
    run in between, the range read first would miss it, and the read is done again."""
    ref = dag_with_child.run_no_wait()
    ref.result(timeout=20)
    run_id = str(ref.workflow_run_id)
    tree = [run_id, *children_of(db, run_id)]
    age(db, tree, days=0.1)
    repo = RunsRepo(Store(hatchet.dsn))
    real_fetch_all = repo._db.fetch_all
    archived: list[int] = []

    def archive_first(query: str, **params: Any) -> Any:
        if query == "get_run" and not archived:  # between the range and the read
            archived.append(history.archive(hatchet.dsn, HOUR).runs)
        return real_fetch_all(query, **params)

    repo._db.fetch_all = archive_first  # type: ignore[method-assign]
    run = repo.get_run(run_id)
    assert archived == [len(tree)] and hot_rows(db, tree)["workflow_runs"] == 0
    assert run.status == "SUCCEEDED" and len(run.tasks) == 2


def test_one_pass_archives_every_run_of_a_group_that_finished_together(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    """Runs finished by one statement share finished_at; a batch boundary inside such a
    group must not skip the rest of it (the pass walks (finished_at, id))."""

    @hatchet.task(name="together")
    def together(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(together)
    ids = [str(r) for r in [together.run_no_wait() for _ in range(7)]]
    wait_until(lambda: all(hatchet.runs.get_status(run_id) == "SUCCEEDED" for run_id in ids))
    db.execute(
        "UPDATE hatchnb.workflow_runs SET finished_at = now() - interval '2 hours'"
        " WHERE id = ANY (%s)",
        (ids,),
    )
    report = history.archive(hatchet.dsn, HOUR, batch_size=3)
    assert report.runs == len(ids)
    assert hot_rows(db, ids)["workflow_runs"] == 0


def test_a_run_page_reads_the_hot_table_alone_only_when_no_archived_run_sorts_into_it(
    hatchet: Hatchet, db: psycopg.Connection[Any], start_worker: Callable[..., Any]
) -> None:
    """Newest first: fresh runs (hot), then runs archived 2 hours after they were created,
    then runs created 5 hours ago that finished just now (hot too). A page of the fresh
    runs alone is read from the hot table in one statement; a page reaching the archived
    runs must read the history too, or the old hot runs would take their places."""

    @hatchet.task(name="paged")
    def paged(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(paged)

    def finished_runs(n: int) -> list[str]:
        refs = [paged.run_no_wait() for _ in range(n)]
        ids = [str(r.workflow_run_id) for r in refs]
        wait_until(lambda: all(hatchet.runs.get_status(i) == "SUCCEEDED" for i in ids))
        return ids

    archived, old_hot = finished_runs(3), finished_runs(3)
    age(db, archived, days=2 / 24)
    history.archive(hatchet.dsn, HOUR)
    assert history_rows(db, archived)["workflow_runs"] == 3
    db.execute(
        "UPDATE hatchnb.workflow_runs SET created_at = now() - interval '5 hours'"
        " WHERE id = ANY (%s)",
        (old_hot,),
    )
    fresh = finished_runs(3)
    since = datetime.now(UTC) - timedelta(days=1)

    def expected(limit: int, offset: int) -> list[str]:
        rows = db.execute(
            "SELECT id FROM hatchnb.workflow_runs_all WHERE created_at >= %s"
            " ORDER BY created_at DESC, id LIMIT %s OFFSET %s",
            (since, limit, offset),
        )
        return [str(r["id"]) for r in rows]

    store, statements = counting_store(hatchet.dsn)
    repo = RunsRepo(store)
    try:
        for limit, offset, reads_history in [
            (3, 0, False),
            (2, 1, False),
            (5, 0, True),
            (3, 3, True),
            (9, 0, True),
        ]:
            statements.clear()
            page = [r.workflow_run_id for r in repo.list_runs(RunFilter(since), limit, offset)]
            assert page == expected(limit, offset), (limit, offset)
            assert statements.count("list_runs") == (2 if reads_history else 1), (limit, offset)
    finally:
        store.close()
    assert set(expected(3, 0)) == set(fresh)
    assert set(expected(3, 3)) == set(archived) and set(expected(3, 6)) == set(old_hot)


def test_each_status_of_the_hot_runs_is_counted_by_a_plan_of_its_own(
    hatchet: Hatchet, db: psycopg.Connection[Any]
) -> None:
    """Analyzed with one status, the hot table looked to a plan made for any status like
    all of that status: each status's count scanned the whole table, also for the statuses
    it holds none of. Each count is planned for its status: an absent one reads an index."""
    from hatchnb.store.queries import get

    @hatchet.task(name="waits")
    def waits(input: EmptyModel, ctx: Context) -> None:
        return None

    waits.run_many_no_wait([waits.create_bulk_run_item() for _ in range(300)])
    db.execute("ANALYZE hatchnb.workflow_runs")
    plans: list[str] = []
    db.add_notice_handler(lambda notice: plans.append(notice.message_primary or ""))
    db.execute("LOAD 'auto_explain'")
    db.execute("SET auto_explain.log_min_duration = 0")
    db.execute("SET auto_explain.log_nested_statements = on")
    db.execute("SET auto_explain.log_level = notice")
    since = datetime.now(UTC) - timedelta(days=1)
    params = {"since": since, "until": None, "workflows": None, "cap": 1000}
    for _ in range(7):  # past plpgsql's five custom plans
        rows = db.execute(
            get("run_status_counts_summarized"),
            params | {"statuses": ["QUEUED", "FAILED", "RUNNING"]},
        ).fetchall()
        assert {r["status"]: r["total"] for r in rows} == {"QUEUED": 300}
    db.execute("SET auto_explain.log_min_duration = -1")
    for status in ("FAILED", "RUNNING"):
        counted = [p for p in plans if "workflow_runs r" in p and f"'{status}'" in p]
        assert len(counted) == 7, (status, plans)
        assert all("Seq Scan" not in plan and "Index" in plan for plan in counted), counted


def test_python_and_sql_agree_on_the_id_hour_of_a_run(db: psycopg.Connection[Any]) -> None:
    """By-id reads compute id hours in Python (hatchnb.ids.run_id_hours), the archive files
    runs under hatchnb.run_id_hour: they must agree, for UUIDv7 ids and any other uuid."""
    from hatchnb import ids

    samples = [str(ids.uuid7()), str(uuid.uuid4()), "00000000-0000-4000-8000-000000000000"]
    samples.append("ffffffff-ffff-7fff-bfff-ffffffffffff")
    for run_id in samples:
        row = db.execute("SELECT hatchnb.run_id_hour(%s::uuid) AS h", (run_id,)).fetchone()
        assert ids.run_id_hours([run_id]) == [row["h"]]
