"""Profile one worker draining pre-enqueued no-op tasks (the C=1 / C=10 phase of
``bench_hatchnb.py``, in one process so cProfile sees the worker's loop).

    PROFILE_DSN=postgresql://postgres@127.0.0.1:55434/postgres \\
        .venv/bin/python benchmarks/profile_worker.py --slots 10 --tasks 20000 --cprofile out.prof

Makes and drops its own database. Prints tasks/s and the CPU time per task of this
process and of all postgres processes (from /proc); with ``--cprofile`` it writes the
profile (``python -m pstats out.prof``); ``--spy`` is for py-spy attached from outside
(it only prints the pid and waits a second before draining). With ``PROFILE_PGSS=1``
(the server must preload pg_stat_statements) it prints the statements that took the most
time, nested ones included when ``pg_stat_statements.track = all``.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import time
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

from hatchnb import Context, EmptyModel, Hatchet

OUTSTANDING = (
    "select count(*) from hatchnb.task_runs where status in ('QUEUED', 'RUNNING', 'PENDING')"
)


def postgres_cpu(postmaster: int) -> float:
    """CPU seconds used so far by the server's processes (children of its postmaster,
    Linux /proc); backends that exit meanwhile are not counted, so read it before the
    worker stops."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(") ")[2].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
    return total / os.sysconf("SC_CLK_TCK")


def scratch_database(base: str) -> tuple[str, str]:
    name = f"hatchnb_profile_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return name, make_conninfo(base, dbname=name)


def drop_database(base: str, name: str) -> None:
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def drain(hatchet: Hatchet, noop: object, slots: int, dsn: str) -> tuple[float, float, float]:
    """Seconds to drain, this process's and postgres's CPU seconds meanwhile."""
    worker = hatchet.worker("profile", slots=slots, workflows=[noop])  # type: ignore[list-item]
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        backend = await (await conn.execute("SELECT pg_backend_pid()")).fetchone()
        postmaster = int(
            Path(f"/proc/{backend[0]}/stat").read_text().rpartition(") ")[2].split()[1]
        )
        started, cpu, pg_cpu = time.perf_counter(), time.process_time(), postgres_cpu(postmaster)
        runner = asyncio.create_task(worker.aio_start())
        while True:
            await asyncio.sleep(0.05)
            row = await (await conn.execute(OUTSTANDING)).fetchone()
            if row is not None and row[0] == 0:
                break
        elapsed = time.perf_counter() - started
        cpu, pg_cpu = time.process_time() - cpu, postgres_cpu(postmaster) - pg_cpu
    worker.stop()
    await runner
    return elapsed, cpu, pg_cpu


def print_statements(dsn: str, tasks: int) -> None:
    """The statements that took the most time (top level and inside functions), per task."""
    sql = (
        "SELECT calls, total_exec_time, total_plan_time, rows, wal_bytes,"
        " left(regexp_replace(query, '\\s+', ' ', 'g'), 80)"
        " FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database"
        " WHERE datname = current_database()) ORDER BY total_exec_time DESC LIMIT 25"
    )
    with psycopg.connect(dsn) as conn:
        for calls, run, plan, rows, wal, query in conn.execute(sql):
            print(
                f"{run * 1000 / tasks:7.1f} us/task run {plan * 1000 / tasks:6.1f} plan"
                f" {int(wal) / tasks:6.0f} WAL B/task {calls:6d} calls {rows:6d} rows  {query}"
            )
        total = conn.execute(
            "SELECT sum(total_exec_time + total_plan_time) FROM pg_stat_statements"
            " WHERE toplevel AND dbid = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())"
        ).fetchone()
        if total is not None and total[0] is not None:
            print(f"{total[0] * 1000 / tasks:7.1f} us/task: all top-level statements")
        # row versions written per task, and how many of the updates were HOT (no new index
        # entries); the counters reach the view within a second of each transaction's end
        time.sleep(1)
        for table, upd, hot in conn.execute(
            "SELECT relname, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
            " WHERE schemaname = 'hatchnb' AND n_tup_upd > 0 ORDER BY relname"
        ):
            print(f"{table}: {upd / tasks:.2f} updates/task ({hot / tasks:.2f} HOT)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--slots", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--cprofile", default="")
    parser.add_argument("--spy", action="store_true")
    args = parser.parse_args()
    base = os.environ.get("PROFILE_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
    name, dsn = scratch_database(base)
    try:
        hatchet = Hatchet(dsn=dsn)

        @hatchet.task(name="noop")
        async def noop(input: EmptyModel, ctx: Context) -> dict[str, str]:
            return {}

        hatchet.register(noop)
        for start in range(0, args.tasks, 1000):
            noop.run_many_no_wait(
                [noop.create_bulk_run_item(input={"i": i}) for i in range(start, start + 1000)]
            )
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE hatchnb.task_runs")
            if os.environ.get("PROFILE_PGSS"):
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                conn.execute("SELECT pg_stat_statements_reset()")
                conn.execute("SELECT pg_stat_reset()")  # table counters: the drain only
        if args.spy:
            print(f"pid {os.getpid()}", flush=True)
            time.sleep(1)
        profiler = cProfile.Profile() if args.cprofile else None
        if profiler:
            profiler.enable()
        elapsed, cpu, pg_cpu = asyncio.run(drain(hatchet, noop, args.slots, dsn))
        if profiler:
            profiler.disable()
            profiler.dump_stats(args.cprofile)
        per_task = 1e6 / args.tasks
        print(
            f"slots={args.slots}: {args.tasks} tasks in {elapsed:.2f}s = "
            f"{args.tasks / elapsed:.0f}/s; CPU per task: this process {cpu * per_task:.0f} us, "
            f"postgres {pg_cpu * per_task:.0f} us"
        )
        if os.environ.get("PROFILE_PGSS"):
            print_statements(dsn, args.tasks)
        hatchet.close()
    finally:
        drop_database(base, name)


if __name__ == "__main__":
    main()
