"""Workload shapes beyond the peers' no-op phases (issue 15): a 3-task chain DAG, a fan-out
of 1,000 children from one parent task, and no-op throughput with 1, 2 and 4 worker
processes.

    PEERBENCH_DSN=postgresql://postgres@127.0.0.1:55433/db \\
        .venv/bin/python benchmarks/bench_shapes.py

Prints a progress trace on stderr and one JSON line on stdout. Workers are separate
processes (this script, role ``worker``); each phase is timed from the moment every worker
wrote its ready stamp (``common.mark_ready()`` right before ``start()``) to the moment the
last run is final in ``hatchnb.workflow_runs`` (polled every 50 ms by the peers' harness).

- chain: ``SHAPES_CHAIN_RUNS`` (1,000) runs of a workflow a -> b -> c (async no-ops),
  bulk-enqueued before one worker process with ``SHAPES_CHAIN_SLOTS`` (50) slots starts;
  runs/s and tasks/s.
- fan-out: one run of a parent task that enqueues ``SHAPES_FANOUT`` (1,000) children with
  one ``aio_run_many_no_wait`` and returns; seconds from the parent's enqueue to the last
  child finished, on an idle worker with 50 slots (three repetitions, all printed).
- processes: ``SHAPES_PROC_TASKS`` (20,000) no-op tasks bulk-enqueued, drained by 1, 2 and
  4 worker processes with ``SHAPES_PROC_SLOTS`` (10) slots each (``SHAPES_PROCESSES``),
  after an untimed warm-up drain of ``SHAPES_PROC_WARMUP`` (2,000) tasks by one process
  (the first drain on a fresh database was 1.5-2x slower whichever count it had).

``SHAPES_PHASES`` (default ``chain,fanout,processes``) picks the phases, e.g.
``SHAPES_PHASES=processes`` for the worker-process curve alone.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PEERS_DIR = Path(
    os.environ.get("PEERBENCH_PEERS_DIR", HERE.parent.parent / "shared" / "bench" / "peers")
)
sys.path.insert(0, str(PEERS_DIR.resolve()))
sys.path.insert(0, str(HERE.parent))

import common as C  # noqa: E402  (the shared peer harness)

from hatchnb import Context, EmptyModel, Hatchet  # noqa: E402

CHAIN_RUNS = int(os.environ.get("SHAPES_CHAIN_RUNS", "1000"))
CHAIN_SLOTS = int(os.environ.get("SHAPES_CHAIN_SLOTS", "50"))
FANOUT = int(os.environ.get("SHAPES_FANOUT", "1000"))
PROC_TASKS = int(os.environ.get("SHAPES_PROC_TASKS", "20000"))
PROC_SLOTS = int(os.environ.get("SHAPES_PROC_SLOTS", "10"))
PROCESSES = [int(n) for n in os.environ.get("SHAPES_PROCESSES", "1,2,4").split(",")]
PROC_WARMUP = int(os.environ.get("SHAPES_PROC_WARMUP", "2000"))
PHASES = os.environ.get("SHAPES_PHASES", "chain,fanout,processes").split(",")
#: runs not final yet (QUEUED or RUNNING: read on the (status, created_at) index)
OUTSTANDING_SQL = "select count(*) from hatchnb.workflow_runs where status in ('QUEUED', 'RUNNING')"


def declare(hatchet: Hatchet) -> dict[str, Any]:
    """The benchmark's workflows, declared identically by driver and workers."""
    chain = hatchet.workflow(name="chain")

    @chain.task()
    async def a(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    @chain.task(parents=[a])
    async def b(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    @chain.task(parents=[b])
    async def c(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    @hatchet.task(name="child")
    async def child(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    @hatchet.task(name="parent")
    async def parent(input: EmptyModel, ctx: Context) -> dict[str, int]:
        items = [child.create_bulk_run_item(input={"i": i}) for i in range(FANOUT)]
        await child.aio_run_many_no_wait(items)
        return {}

    @hatchet.task(name="noop")
    async def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {}

    return {"chain": chain, "child": child, "parent": parent, "noop": noop}


def worker_main(slots: int) -> None:
    hatchet = Hatchet(dsn=C.DSN)
    flows = declare(hatchet)
    worker = hatchet.worker("shapes", slots=slots, workflows=list(flows.values()))
    C.mark_ready()
    worker.start()


def start_workers(count: int, slots: int, tag: str) -> tuple[list[C.Worker], float]:
    workers = [C.Worker(os.path.abspath(__file__), slots, f"{tag}-{i}") for i in range(count)]
    return workers, max(w.wait_ready() for w in workers)


def drain(counter: C.PgCounter, n: int, workers: int, slots: int, tag: str) -> dict[str, Any]:
    started, t_ready = start_workers(workers, slots, tag)
    try:
        return C.wait_drained(counter, n, t_ready)
    finally:
        for w in started:
            w.stop()


def bulk(workflow: Any, n: int) -> None:
    for start in range(0, n, 1000):
        stop = min(n, start + 1000)
        workflow.run_many_no_wait(
            [workflow.create_bulk_run_item(input={"i": i}) for i in range(start, stop)]
        )


def chain_phase(flows: dict[str, Any], counter: C.PgCounter) -> dict[str, Any]:
    bulk(flows["chain"], CHAIN_RUNS)
    counter.maybe_analyze()
    out = drain(counter, CHAIN_RUNS, 1, CHAIN_SLOTS, "chain")
    out["runs"] = CHAIN_RUNS
    out["slots"] = CHAIN_SLOTS
    if "jobs_per_s" in out:
        out["tasks_per_s"] = C.r(out["jobs_per_s"] * 3)
    C.log(f"chain: {out}")
    return out


def fanout_phase(flows: dict[str, Any], counter: C.PgCounter) -> dict[str, Any]:
    workers, _ = start_workers(1, 50, "fanout")
    seconds = []
    try:
        for _ in range(3):
            t = time.time()
            flows["parent"].run_no_wait({})
            time.sleep(0.05)
            while counter() > 0:
                time.sleep(0.01)
            seconds.append(C.r(time.time() - t, 3))
    finally:
        workers[0].stop()
    out = {"children": FANOUT, "seconds": seconds, "median_s": sorted(seconds)[1]}
    C.log(f"fan-out: {out}")
    return out


def processes_phase(flows: dict[str, Any], counter: C.PgCounter) -> dict[str, Any]:
    out: dict[str, Any] = {"tasks": PROC_TASKS, "slots_per_process": PROC_SLOTS}
    if PROC_WARMUP:  # untimed: the first drain on a fresh database is slower, whatever its count
        bulk(flows["noop"], PROC_WARMUP)
        counter.maybe_analyze()
        drain(counter, PROC_WARMUP, 1, PROC_SLOTS, "procs-warmup")
    for count in PROCESSES:
        bulk(flows["noop"], PROC_TASKS)
        counter.maybe_analyze()
        result = drain(counter, PROC_TASKS, count, PROC_SLOTS, f"procs{count}")
        out[f"p{count}"] = result.get("jobs_per_s")
        C.log(f"{count} worker process(es) x {PROC_SLOTS} slots: {result}")
    return out


def driver() -> dict[str, Any]:
    hatchet = Hatchet(dsn=C.DSN)
    flows = declare(hatchet)
    for flow in flows.values():
        hatchet.register(flow)
    counter = C.PgCounter(OUTSTANDING_SQL)
    try:
        phases = {"chain": chain_phase, "fanout": fanout_phase, "processes": processes_phase}
        out: dict[str, Any] = {"peer": "hatchnb-shapes"}
        for name in PHASES:
            out[name] = phases[name](flows, counter)
        return out
    finally:
        counter.close()
        hatchet.close()


def main() -> None:
    args = C.worker_args()
    if args.role == "worker":
        worker_main(args.concurrency)
    else:
        C.emit(driver())


if __name__ == "__main__":
    main()
