"""The dashboard's runs page with 100,000 runs in the database.

    .venv/bin/python benchmarks/dashboard/bench_runs_page.py   # uses HATCHNB_BENCH_DSN's server

Creates (and drops) its own database, seeds BENCH_RUNS runs (default 100,000) through the
library, then times the library calls one refresh of the runs page makes (list of 50, count,
status counts), with and without filters, and the page load in headless Chromium if
/usr/bin/chromium exists. Prints a table and one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

ADMIN = os.environ.get("HATCHNB_BENCH_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RUNS = int(os.environ.get("BENCH_RUNS", "100000"))
BATCH = 2000
REPEAT = 20


def main() -> None:
    name = f"bench_dashboard_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        results = measure(ADMIN.rsplit("/", 1)[0] + "/" + name)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE {name} WITH (FORCE)")
    for key, value in results.items():
        print(f"{key:45} {value}")
    print(json.dumps(results))


def seed(hatchet: Any) -> float:
    from hatchnb import Context, TriggerWorkflowOptions

    etl = hatchet.workflow(name="etl")

    @etl.task()
    def extract(input: Any, ctx: Context) -> None:
        return None

    @etl.task(parents=[extract])
    def load(input: Any, ctx: Context) -> None:
        return None

    other = hatchet.workflow(name="report")

    @other.task()
    def render(input: Any, ctx: Context) -> None:
        return None

    tagged = TriggerWorkflowOptions(additional_metadata={"team": "ml"})
    started = time.perf_counter()
    for offset in range(0, RUNS, BATCH):
        wf = etl if (offset // BATCH) % 2 == 0 else other
        items = [
            wf.create_bulk_run_item({"i": offset + k}, options=tagged if k % 10 == 0 else None)
            for k in range(min(BATCH, RUNS - offset))
        ]
        refs = wf.run_many_no_wait(items)
        if (offset // BATCH) % 5 == 0:  # a fifth of the runs end CANCELLED
            hatchet.runs.bulk_cancel([str(r) for r in refs])
    return time.perf_counter() - started


def page_load(hatchet: Any, filters: dict[str, Any], statuses: list[str] | None) -> None:
    """What one refresh of the runs page asks the library for."""
    hatchet.runs.list(**filters, statuses=statuses, limit=50, offset=0)
    hatchet.runs.count(**filters, statuses=statuses)
    hatchet.runs.status_counts(**filters)


def timed(fn: Callable[[], Any]) -> dict[str, float]:
    fn()  # warm the pool and the plan cache
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return {
        "median_ms": round(statistics.median(samples), 1),
        "max_ms": round(max(samples), 1),
    }


def browser_load(hatchet: Any) -> float | None:
    """Seconds from navigation to the first table row of the runs page, in Chromium."""
    if not shutil.which("/usr/bin/chromium"):
        return None
    from playwright.sync_api import sync_playwright

    from hatchnb.dashboard.serve import start_dashboard

    handle = start_dashboard(hatchet)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"]
            )
            page = browser.new_page()
            page.goto(handle.url + "?page=runs")  # first load: static files, warm caches
            page.locator(".tabulator-row").first.wait_for(timeout=30_000)
            started = time.perf_counter()
            page.goto(handle.url + "?page=runs")
            page.locator(".tabulator-row").first.wait_for(timeout=30_000)
            elapsed = time.perf_counter() - started
            browser.close()
    finally:
        handle.stop()
    return round(elapsed, 3)


def measure(dsn: str) -> dict[str, Any]:
    from hatchnb import Hatchet

    hatchet = Hatchet(dsn=dsn)
    try:
        seconds = seed(hatchet)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")  # as autovacuum would have done by now
        day = datetime.now(UTC) - timedelta(days=1)
        all_runs = {"since": day}
        narrow = {
            "since": day,
            "workflow_names": ["etl"],
            "additional_metadata": {"team": "ml"},
        }
        month = {"since": datetime.now(UTC) - timedelta(days=30)}
        return {
            "runs": hatchet.runs.count(since=day),
            "seed_seconds": round(seconds, 1),
            "page_data_no_filter": timed(lambda: page_load(hatchet, all_runs, None)),
            "page_data_workflow_metadata_status": timed(
                lambda: page_load(hatchet, narrow, ["CANCELLED"])
            ),
            "page_data_30_days": timed(lambda: page_load(hatchet, month, None)),
            "list_page_100_offset_4950": timed(
                lambda: hatchet.runs.list(since=day, limit=50, offset=4950)
            ),
            "browser_runs_page_seconds": browser_load(hatchet),
        }
    finally:
        hatchet.close()


if __name__ == "__main__":
    main()
