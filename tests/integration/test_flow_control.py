"""Flow control against real worker processes: concurrency keys and their strategies, rate
limits, sticky runs, label affinity and slot costs."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hatchnb import RateLimitDuration, RunStatus
from hatchnb.errors import InvalidWorkflow
from tests.conftest import wait_until
from tests.integration.shipped import flow_flows

pytestmark = [pytest.mark.integration, pytest.mark.workers]


@pytest.fixture
def flows(hatchet: Any, db: Any) -> dict[str, Any]:
    db.execute(flow_flows.PROBE_TABLE)
    return flow_flows.declare(hatchet)


def _peaks(db: Any) -> dict[str, tuple[int, int]]:
    rows = db.execute("SELECT key, peak, done FROM probe").fetchall()
    return {r["key"]: (r["peak"], r["done"]) for r in rows}


def _statuses(db: Any, workflow: str) -> list[str]:
    rows = db.execute(
        "SELECT status FROM hatchnb.workflow_runs WHERE workflow_name = %s ORDER BY id",
        (workflow,),
    ).fetchall()
    return [r["status"] for r in rows]


def test_round_robin_never_exceeds_max_runs_per_key_across_workers(
    flows: dict[str, Any], worker_process: Any, db: Any, hatchet: Any
) -> None:
    task = flows["per_tenant"]
    # tenant a floods the queue first; b and c arrive after it
    items = [task.create_bulk_run_item({"tenant": "a", "seconds": 0.15}) for _ in range(16)]
    items += [task.create_bulk_run_item({"tenant": t, "seconds": 0.15}) for t in "bc" * 3]
    refs = task.run_many_no_wait(items)
    usage = {(u.key, u.running, u.queued) for u in hatchet.concurrency.list()}
    assert ("a", 2, 14) in usage  # two hold the key, the rest wait BLOCKED
    for _ in range(3):
        worker_process("--slots", "4")
    for ref in refs:
        ref.result()
    peaks = _peaks(db)
    # a's sixteen always reach the limit; b's and c's three may run one at a time when the
    # worker processes start far apart (each finishes in 0.15 s): at most two, all done
    assert peaks["a"] == (2, 16)
    assert peaks["b"][0] <= 2 and peaks["c"][0] <= 2
    assert (peaks["b"][1], peaks["c"][1]) == (3, 3)
    # fair across keys: b and c did not wait behind all of a's runs
    finished = db.execute(
        "SELECT r.input ->> 'tenant' AS tenant, max(t.finished_at) AS last "
        "FROM hatchnb.task_runs t JOIN hatchnb.workflow_runs r ON r.id = t.run_id "
        "GROUP BY 1"
    ).fetchall()
    last = {r["tenant"]: r["last"] for r in finished}
    assert last["b"] < last["a"] and last["c"] < last["a"]
    assert all(u.running == 0 and u.queued == 0 for u in hatchet.concurrency.list())


def test_workflow_level_key_holds_the_whole_run(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    dag = flows["dag"]
    refs = dag.run_many_no_wait([dag.create_bulk_run_item({"tenant": "x"}) for _ in range(4)])
    worker_process("--slots", "4")
    worker_process("--slots", "4")
    for ref in refs:
        ref.result()
    # one run at a time: never two tasks of the tenant at once, though each run has two
    assert _peaks(db) == {"dag-x": (1, 8)}


def test_cancel_in_progress_cancels_the_running_run(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    task = flows["newest_wins"]
    worker_process("--slots", "4")
    old = task.run_no_wait({"tenant": "t", "n": 1, "seconds": 20})
    wait_until(lambda: _statuses(db, "newest_wins") == ["RUNNING"], message="first run running")
    new = task.run_no_wait({"tenant": "t", "n": 2, "seconds": 0.1})
    assert _out(new) == {"n": 2}
    assert _statuses(db, "newest_wins") == ["CANCELLED", "SUCCEEDED"]
    error = db.execute(
        "SELECT error FROM hatchnb.workflow_runs WHERE id = %s", (old.workflow_run_id,)
    ).fetchone()["error"]
    assert "CANCEL_IN_PROGRESS" in error


def test_cancel_newest_cancels_the_incoming_run(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    task = flows["oldest_wins"]
    worker_process("--slots", "4")
    # long enough to still run when the newest run's cancel is seen on a loaded machine
    old = task.run_no_wait({"tenant": "t", "n": 1, "seconds": 5})
    wait_until(lambda: _statuses(db, "oldest_wins") == ["RUNNING"], message="first run running")
    task.run_no_wait({"tenant": "t", "n": 2, "seconds": 0.1})
    wait_until(
        lambda: _statuses(db, "oldest_wins") == ["RUNNING", "CANCELLED"],
        message="the newest run cancelled",
    )
    assert _out(old) == {"n": 1}


def test_killed_worker_does_not_leak_its_concurrency_slot(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    task = flows["per_tenant"]
    victim = worker_process("--slots", "2")
    refs = task.run_many_no_wait(
        [task.create_bulk_run_item({"tenant": "k", "seconds": 1.5}) for _ in range(3)]
    )
    wait_until(lambda: _peaks(db).get("k", (0, 0))[0] == 2, message="two runs holding the key")
    victim.proc.kill()
    worker_process("--slots", "2")
    for ref in refs:
        ref.result()  # the killed runs were re-queued with their slots; the third got in
    rows = db.execute("SELECT count(*) AS n FROM hatchnb.concurrency_holds").fetchone()
    assert rows["n"] == 0


def test_static_rate_limit_waits_without_blocking_other_tasks(
    flows: dict[str, Any], worker_process: Any, hatchet: Any
) -> None:
    hatchet.rate_limits.put("api", 2, RateLimitDuration.SECOND)
    limited, plain = flows["limited"], flows["plain"]
    worker_process("--slots", "8")
    refs = limited.run_many_no_wait([limited.create_bulk_run_item({}) for _ in range(6)])
    plain_at = plain.run({})["at"]
    times = sorted(_out(ref)["at"] for ref in refs)
    # 2 per one-second window: the 6th ran in the third window, which starts at least a
    # second after the first one ends (a slow worker start may use the first window late) ...
    assert times[-1] - times[0] >= 0.99
    # ... and the plain task queued behind them was not held up
    assert plain_at < times[-1] - 0.5
    usage = {u.key: u for u in hatchet.rate_limits.list()}
    assert usage["api"].limit == 2 and usage["api"].queued == 0


def test_dynamic_rate_limit_keys_and_units(flows: dict[str, Any], worker_process: Any) -> None:
    per_user = flows["per_user"]
    worker_process("--slots", "8")
    per_user.run({"user": "warm-up", "units": 1})
    started = time.time()
    fast = per_user.run_many_no_wait(
        [per_user.create_bulk_run_item({"user": f"u{i}", "units": 2}) for i in range(4)]
    )
    assert all(_out(ref)["at"] - started < 1.0 for ref in fast)  # one window per user
    with pytest.raises(InvalidWorkflow, match="can never run under a limit of 2"):
        per_user.run_no_wait({"user": "u9", "units": 3})


def test_static_rate_limit_must_exist_and_fit(flows: dict[str, Any], hatchet: Any) -> None:
    with pytest.raises(InvalidWorkflow, match=r"hatchet\.rate_limits\.put\('api'"):
        flows["limited"].run_no_wait({})
    with pytest.raises(ValueError, match="limit=0: pass a whole number from 1 to"):
        hatchet.rate_limits.put("api", 0)


def test_hard_sticky_runs_every_task_on_the_first_worker(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    dag = flows["sticky_dag"]
    worker_process("--slots", "2")
    worker_process("--slots", "2")
    wait_until(lambda: _active_workers(db) == 2, message="both workers")
    results = [ref.result() for ref in dag.run_many_no_wait([dag.create_bulk_run_item({})] * 6)]
    for outputs in results:
        assert outputs["one"] == outputs["two"] == outputs["three"]
    assert len({outputs["one"] for outputs in results}) == 2  # both workers got runs


def test_required_labels_are_never_violated(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    task = flows["needs_gpu"]
    worker_process("--slots", "4", "--label", "gpu=no", "--label", "memory=1024")
    worker_process("--slots", "4", "--label", "gpu=yes", "--label", "memory=128")
    good = worker_process("--slots", "4", "--label", "gpu=yes", "--label", "memory=512")
    ran_on = {_out(ref) for ref in task.run_many_no_wait([task.create_bulk_run_item({})] * 8)}
    assert len(ran_on) == 1
    assert ran_on.pop() == _worker_id_of(db, good)


def test_best_weighted_worker_wins_and_label_updates_count(
    flows: dict[str, Any], worker_process: Any, db: Any
) -> None:
    task = flows["prefers_big_model"]
    worker_process("--slots", "4", "--label", "model=small")
    wait_until(lambda: _active_workers(db) == 1, message="first worker")
    first = task.run({"load": True})  # the only worker loads the model
    big = worker_process("--slots", "4", "--label", "model=big")
    wait_until(lambda: _active_workers(db) == 2, message="second worker")
    refs = task.run_many_no_wait([task.create_bulk_run_item({})] * 6)
    ran_on = [_out(ref) for ref in refs]
    # both now carry model=big; with equal scores either may win, never one with a lower score
    assert set(ran_on) <= {first, _worker_id_of(db, big)}
    labels = db.execute("SELECT labels FROM hatchnb.workers WHERE id = %s", (first,)).fetchone()[
        "labels"
    ]
    assert labels["model"] == "big"


def test_slot_cost_and_release_slot(flows: dict[str, Any], worker_process: Any, db: Any) -> None:
    heavy, releases_early = flows["heavy"], flows["releases_early"]
    worker_process("--slots", "2")
    for ref in heavy.run_many_no_wait([heavy.create_bulk_run_item({})] * 3):
        ref.result()
    assert _peaks(db)["heavy"] == (1, 3)  # two slots each: one at a time on a 2-slot worker
    for ref in releases_early.run_many_no_wait([releases_early.create_bulk_run_item({})] * 3):
        ref.result()
    assert _peaks(db)["released"][0] >= 2  # released slots let the next one start


def _out(ref: Any) -> Any:
    """The output of a standalone task's run (its TaskRunRef's result, as in hatchet_sdk)."""
    return ref.result()


def _active_workers(db: Any) -> int:
    row = db.execute("SELECT count(*) AS n FROM hatchnb.workers WHERE status = 'ACTIVE'")
    return int(row.fetchone()["n"])


def _worker_id_of(db: Any, proc: Any) -> str:
    row = wait_until(
        lambda: db.execute("SELECT id FROM hatchnb.workers WHERE pid = %s", (proc.pid,)).fetchone(),
        message="the worker's row",
    )
    return str(row["id"])


def test_blocked_status_is_reported(flows: dict[str, Any], hatchet: Any) -> None:
    task = flows["per_tenant"]
    refs = task.run_many_no_wait([task.create_bulk_run_item({"tenant": "z"})] * 3)
    statuses = [hatchet.runs.get(ref.workflow_run_id).tasks[0].status for ref in refs]
    assert statuses == [RunStatus.QUEUED, RunStatus.QUEUED, RunStatus.BLOCKED]
