"""Dashboard fixtures: seeded data, the real Panel server on 127.0.0.1, headless Chromium."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, wait_until
from tests.dashboard import flows

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"
needs_chromium = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason="Debian's Chromium (/usr/bin/chromium) is not installed"
)


@pytest.fixture
def seeded(hatchet: Any, start_worker: Callable[..., Any], db: Any) -> dict[str, Any]:
    """Finished runs of a DAG (one with metadata), a failed run, a cron (with the error of a
    tick that could not start its run), a scheduled run and an event, with a worker running
    every workflow."""
    wfs = flows.declare(hatchet)
    worker = start_worker(*wfs.values(), slots=4)
    ok = wfs["etl"].run_no_wait({"day": 1})
    tagged = wfs["etl"].run_no_wait(
        {"day": 2}, options=_options(additional_metadata={"team": "ml"})
    )
    failed = wfs["boom"].run_no_wait({})
    for ref in (ok, tagged, failed):
        wait_until(lambda r=ref: str(r.status()) in ("SUCCEEDED", "FAILED"), 20, "seed runs")  # type: ignore[misc]
    cron = hatchet.cron.create("etl", "nightly", "0 3 * * *", {"day": 9})
    # what the engine stores when a tick cannot start its run (test_triggers.py fires one)
    db.execute(
        "UPDATE hatchnb.crons SET last_error = 'no run started at 03:00: key failed' WHERE id = %s",
        (cron.id,),
    )
    later = hatchet.scheduled.create("etl", datetime.now(UTC) + timedelta(hours=2), {"day": 7})
    hatchet.event.push("user:created", {"id": 1})
    hatchet.rate_limits.put("external-api", 10)
    return {
        "workflows": wfs,
        "worker": worker,
        "ok": str(ok),
        "tagged": str(tagged),
        "failed": str(failed),
        "cron": cron,
        "scheduled": later,
    }


def _options(**kwargs: Any) -> Any:
    from hatchnb.types import TriggerWorkflowOptions

    return TriggerWorkflowOptions(**kwargs)


@pytest.fixture
def dashboard(hatchet: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from hatchnb.dashboard.serve import start_dashboard

    monkeypatch.delenv("HATCHNB_DASHBOARD_PASSWORD", raising=False)
    monkeypatch.delenv("HATCHNB_DASHBOARD_TOKEN", raising=False)
    handle = start_dashboard(hatchet, address="127.0.0.1", port=0)
    yield handle
    handle.stop()


# module scope: Playwright's sync API keeps an event loop running in this thread until it
# stops, and later tests (outside this folder) call asyncio.run()
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's Chromium (/usr/bin/chromium) is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Page:
    """A Playwright page that records console errors and page errors."""

    def __init__(self, page: Any, base: str) -> None:
        self.page = page
        self.base = base.rstrip("/")
        self.errors: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)

    def open(self, query: str) -> Any:
        self.page.goto(f"{self.base}/{query}", wait_until="domcontentloaded")
        self.page.wait_for_function(
            "() => window.Bokeh && Bokeh.documents.length > 0", timeout=20_000
        )
        return self.page

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.fixture
def page(browser: Any, dashboard: Any) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    wrapped = Page(context.new_page(), dashboard.url)
    yield wrapped
    context.close()
