"""The run page at a glance: an attempts table with errors, and a timeline whose bars have
a legend, a failed-then-retried attempt drawn as a failure (Chromium, real server)."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb import Context
from hatchnb.dashboard.pages.run_detail import attempt_outcome
from hatchnb.widgets.dag import STATUS_COLORS

pytestmark = [pytest.mark.browser, pytest.mark.integration]

GANTT_JS = """() => {
  const doc = window.Bokeh && Bokeh.documents[0];
  const source = doc && doc.get_model_by_name('gantt');
  if (!source || source.data.label.length < 2) return null;
  const legends = [...doc.all_models].filter(m => m.type === 'Legend');
  return {labels: Array.from(source.data.label), colors: Array.from(source.data.color),
          legends: legends.length};
}"""


def test_attempts_table_and_timeline_legend(page: Any, hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(retries=1)
    def flaky(input: Any, ctx: Context) -> str:
        if ctx.retry_count == 0:
            raise ValueError("first try breaks: disk full")
        return "ok"

    start_worker(flaky)
    ref = flaky.run_no_wait()
    assert ref.result(timeout=30) == "ok"

    p = page.open(f"?page=run&id={ref.workflow_run_id}")
    row = p.locator(".tabulator-row", has_text="failed, retried")
    row.wait_for(timeout=15_000)
    assert "ValueError: first try breaks: disk full" in row.inner_text()
    assert "Traceback" not in row.inner_text()  # the message; the traceback is under Outputs
    p.locator(".tabulator-row", has_text="SUCCEEDED").first.wait_for(timeout=15_000)
    gantt = p.wait_for_function(GANTT_JS, timeout=15_000).json_value()
    assert gantt["labels"] == ["failed, retried", "SUCCEEDED"]
    assert gantt["colors"] == [STATUS_COLORS["FAILED"], STATUS_COLORS["SUCCEEDED"]]
    assert gantt["legends"] == 1
    page.shot("run-attempts")
    assert page.errors == []


def test_attempt_outcomes_name_what_happened() -> None:
    assert attempt_outcome("QUEUED", "boom") == ("FAILED", "failed, retried")
    assert attempt_outcome("QUEUED", None) == ("CANCELLED", "handed back")
    assert attempt_outcome("SUCCEEDED", None) == ("SUCCEEDED", "SUCCEEDED")
