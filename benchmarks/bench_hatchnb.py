"""Benchmark hatchnb beside the peer task queues of ../shared/bench/peers.

Same phases, same workload, same one-line JSON as the peer scripts (peer id
"hatchnb"); the harness module ``common`` of the peer folder is imported, not
copied, so timing, polling, latency collection and percentiles are identical.

Job: a standalone ``@hatchet.task(name="noop")``, an ``async def`` returning
``{}``; latency jobs carry ``{"idx": i}`` and call ``common.record_start(i)`` first.
Worker: ``hatchet.worker("bench", slots=C, workflows=[noop]).start()`` in a
separate process (this script, role ``worker``); ``common.mark_ready()`` is called
right before ``start()``, so hatchnb's own start-up (registration, pool, LISTEN,
worker row) is inside the measured time, like the peers' library start-up.
Bulk enqueue: ``noop.run_many_no_wait([...1,000 items...])`` (one INSERT statement
per call).  Single enqueue: ``noop.run_no_wait(...)`` (one transaction per job).
Finished = the task run is no longer PENDING/QUEUED/RUNNING in
``hatchnb.task_runs`` (i.e. ``finish_task_runs`` has committed it).

Environment: PEERBENCH_DSN (database to use) plus every PEERBENCH_* knob of
``common``; PEERBENCH_PEERS_DIR (default ../../shared/bench/peers relative to this
file) locates ``common.py``.  hatchnb's own HATCHNB_* settings are left at their
defaults unless set in the environment (they are recorded in the JSON).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
PEERS_DIR = Path(
    os.environ.get("PEERBENCH_PEERS_DIR", HERE.parent.parent / "shared" / "bench" / "peers")
)
sys.path.insert(0, str(PEERS_DIR.resolve()))
# the project root, so `import hatchnb` finds this checkout (it need not be pip-installed)
sys.path.insert(0, str(HERE.parent))

import common as C  # noqa: E402  (the shared peer harness)

import hatchnb  # noqa: E402
from hatchnb import Context, EmptyModel, Hatchet  # noqa: E402
from hatchnb.config import Settings  # noqa: E402

OUTSTANDING_SQL = (
    "select count(*) from hatchnb.task_runs where status in ('QUEUED','RUNNING','PENDING')"
)
# deletes cascade to task_runs and task_logs
PURGE_SQL = "delete from hatchnb.workflow_runs"


def declare(hatchet: Hatchet):
    """The benchmark task, declared identically by driver and worker."""

    @hatchet.task(name="noop")
    async def noop(input: EmptyModel, ctx: Context) -> dict:
        idx = (input.model_extra or {}).get("idx")
        if idx is not None:
            C.record_start(int(idx))
        return {}

    return noop


# ---- worker role ----------------------------------------------------------------
def worker_main(concurrency: int) -> None:
    hatchet = Hatchet(dsn=C.DSN)
    noop = declare(hatchet)
    worker = hatchet.worker("bench", slots=concurrency, workflows=[noop])
    C.mark_ready()
    worker.start()  # blocks until SIGTERM (graceful stop)


# ---- driver role ----------------------------------------------------------------
def git_describe() -> str:
    try:
        root = HERE.parent
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--", "hatchnb"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return commit + ("+dirty(hatchnb/)" if dirty else "")
    except Exception as exc:
        return f"unknown ({exc})"


def db_span(counter: C.PgCounter, min_id: int) -> dict:
    """Diagnostics from hatchnb's own timestamps for task runs with id > min_id."""
    row = counter.conn.execute(
        "select count(*), extract(epoch from max(finished_at) - min(started_at)), "
        "extract(epoch from max(started_at) - min(started_at)) "
        "from hatchnb.task_runs where id > %s and status = 'SUCCEEDED'",
        (min_id,),
    ).fetchone()
    n, span, start_span = row
    out = {"succeeded": int(n)}
    if span:
        out["first_start_to_last_finish_s"] = C.r(span, 3)
        out["jobs_per_s_db"] = C.r(int(n) / float(span))
    if start_span:
        out["first_start_to_last_start_s"] = C.r(start_span, 3)
    return out


def max_task_id(counter: C.PgCounter) -> int:
    sql = "select coalesce(max(id), 0) from hatchnb.task_runs"
    return int(counter.conn.execute(sql).fetchone()[0])


def driver() -> dict:
    settings = Settings.from_env(C.DSN)
    res: dict = {
        "peer": "hatchnb",
        "version": f"{hatchnb.__version__} ({git_describe()})",
        "settings": {
            "worker": "hatchet.worker(slots=C, workflows=[noop]).start(); claim_task_runs "
            "(SKIP LOCKED, up to free slots), results batched into finish_task_runs; "
            "LISTEN/NOTIFY wake-up",
            "poll_interval_s": settings.poll_interval,
            "heartbeat_interval_s": settings.heartbeat_interval,
            "engine_interval_s": settings.engine_interval,
            "job": "async def no-op returning {}",
            "bulk_api": "Standalone.run_many_no_wait(create_bulk_run_item x 1,000)",
            "single_api": "Standalone.run_no_wait(input)",
            "note": "workflow version registered once before the timed enqueues",
        },
    }
    script = os.path.abspath(__file__)
    t = time.time()
    hatchet = Hatchet(dsn=C.DSN)  # runs the migrations
    noop = declare(hatchet)
    hatchet.register(noop)  # one-off version upsert, not part of the timed enqueue
    C.log(f"hatchnb client ready (migrations + registration) in {time.time() - t:.2f}s")
    counter = C.PgCounter(OUTSTANDING_SQL)
    res["pg"] = C.pg_settings()

    res["bulk_enqueue"] = {}
    res["process"] = {}
    res["db_timing"] = {}
    for conc in C.CONCURRENCIES:
        before = max_task_id(counter)
        t = time.perf_counter()
        for start in range(0, C.N_BULK, C.BATCH):
            items = [
                noop.create_bulk_run_item(input={"i": i})
                for i in range(start, min(C.N_BULK, start + C.BATCH))
            ]
            noop.run_many_no_wait(items)
        el = time.perf_counter() - t
        res["bulk_enqueue"][f"c{conc}"] = {
            "n": C.N_BULK,
            "elapsed_s": C.r(el, 3),
            "jobs_per_s": C.r(C.N_BULK / el),
        }
        C.log(f"bulk enqueue {C.N_BULK}: {C.N_BULK / el:.0f}/s")
        counter.maybe_analyze()
        res["process"][f"c{conc}"] = C.run_phase(
            script,
            conc,
            f"hatchnb-c{conc}",
            counter,
            C.N_BULK,
            purge=lambda: counter.exec(PURGE_SQL),
        )
        res["db_timing"][f"c{conc}"] = db_span(counter, before)

    t = time.perf_counter()
    for i in range(C.N_SINGLE):
        noop.run_no_wait({"i": i})
    el = time.perf_counter() - t
    res["single_enqueue"] = {
        "n": C.N_SINGLE,
        "elapsed_s": C.r(el, 3),
        "jobs_per_s": C.r(C.N_SINGLE / el),
    }
    C.log(f"single enqueue: {res['single_enqueue']}")
    counter.maybe_analyze()

    latfile = C.RUN_DIR / "lat-hatchnb.txt"
    latfile.unlink(missing_ok=True)
    os.environ["PEERBENCH_LATFILE"] = str(latfile)
    w = C.Worker(script, C.LAT_CONCURRENCY, "hatchnb-lat")
    try:
        t_ready = w.wait_ready()
        res["single_drain"] = C.wait_drained(counter, C.N_SINGLE, t_ready)
        noop.run_no_wait({"idx": -1})  # warm-up
        while counter() > 0:
            time.sleep(0.05)
        time.sleep(1.0)
        latfile.write_text("")

        def enqueue_one(i: int) -> None:
            noop.run_no_wait({"idx": i})

        res["latency"] = C.latency_phase(enqueue_one, latfile)
        C.log(f"latency: {res['latency']}")
    finally:
        w.stop()
    counter.close()
    hatchet.close()
    return res


def main() -> None:
    args = C.worker_args()
    if args.role == "worker":
        worker_main(args.concurrency)
    else:
        C.emit(driver())


if __name__ == "__main__":
    main()
