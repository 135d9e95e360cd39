"""Live updates, filters and actions in the browser."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel

from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

DAG_STATUSES = """() => {
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name('dag_nodes');
    if (m) return Object.fromEntries(Array.from(m.data.name).map((n, i) => [n, m.data.status[i]]));
  }
  return null;
}"""


def _dag(page: Any) -> dict[str, str] | None:
    return page.evaluate(DAG_STATUSES)  # type: ignore[no-any-return]


def _row(page: Any, run_id: str) -> Any:
    return page.locator(".tabulator-row", has_text=run_id)


def test_new_run_appears_and_its_dag_changes_colour_live(
    page: Any, seeded: dict[str, Any], tmp_path: Path
) -> None:
    p = page.open("?page=runs")
    _row(p, seeded["ok"]).wait_for(timeout=15_000)
    flag = tmp_path / "release"
    run_id = str(seeded["workflows"]["slow"].run_no_wait({"flag": str(flag)}))
    _row(p, run_id).wait_for(timeout=10_000)  # appeared without a reload

    p = page.open(f"?page=run&id={run_id}")
    wait_until(lambda: (_dag(p) or {}).get("wait") == "RUNNING", 15, f"RUNNING in {_dag(p)}")
    assert _dag(p) == {"wait": "RUNNING", "after": "PENDING"}
    page.shot("run-live-running")
    flag.touch()
    wait_until(lambda: _dag(p) == {"wait": "SUCCEEDED", "after": "SUCCEEDED"}, 15, "DAG SUCCEEDED")
    p.get_by_text("released").first.wait_for(timeout=10_000)  # the log streamed in
    page.shot("run-live-done")
    assert page.errors == []


def test_metadata_filter_narrows_the_table(page: Any, seeded: dict[str, Any]) -> None:
    p = page.open("?page=runs")
    _row(p, seeded["ok"]).wait_for(timeout=15_000)
    assert _row(p, seeded["tagged"]).count() == 1
    box = p.locator("input[placeholder='team=ml']")
    box.fill("team=ml")
    box.press("Enter")
    _row(p, seeded["ok"]).wait_for(state="detached", timeout=10_000)
    assert _row(p, seeded["tagged"]).count() == 1
    assert _row(p, seeded["failed"]).count() == 0
    p.get_by_text("1-1 of 1").wait_for(timeout=5_000)
    page.shot("runs-filtered")
    assert page.errors == []


def test_cancel_from_the_page_cancels_the_run_in_postgres(
    page: Any, seeded: dict[str, Any], hatchet: Any, tmp_path: Path
) -> None:
    run_id = str(seeded["workflows"]["slow"].run_no_wait({"flag": str(tmp_path / "never")}))
    wait_until(lambda: str(hatchet.runs.get_status(run_id)) == "RUNNING", 15, "run RUNNING")
    p = page.open("?page=runs")
    row = _row(p, run_id)
    row.wait_for(timeout=15_000)
    row.locator(".tabulator-cell[tabulator-field='workflow']").click()
    p.get_by_role("button", name="Cancel selected").click()
    wait_until(lambda: str(hatchet.runs.get_status(run_id)) == "CANCELLED", 15, "CANCELLED")
    p.get_by_text("cancelled 1 run(s)").wait_for(timeout=5_000)
    assert page.errors == []


def test_pause_and_resume_a_workflow_from_the_page(
    page: Any, seeded: dict[str, Any], hatchet: Any
) -> None:
    p = page.open("?page=workflows&name=etl")
    p.get_by_role("button", name="Pause workflow").click()
    wait_until(lambda: hatchet.workflows.get("etl").is_paused, 15, "etl paused in Postgres")
    p.get_by_text("etl paused: its runs wait").wait_for(timeout=5_000)
    p.locator(".tabulator-cell[tabulator-field='state']", has_text="paused").wait_for(timeout=5_000)
    ref = seeded["workflows"]["etl"].run_no_wait({"day": 3})
    time.sleep(1.0)
    assert str(ref.status()) == "QUEUED"  # the worker skips a paused workflow
    p.get_by_role("button", name="Resume workflow").click()
    wait_until(lambda: not hatchet.workflows.get("etl").is_paused, 15, "etl resumed")
    assert ref.result(timeout=20)
    assert [e.action for e in hatchet.audit.list()][:2] == ["unpause", "pause"]
    page.shot("workflows-paused")
    assert page.errors == []


def test_a_finished_run_page_reads_finished(page: Any, hatchet: Any, start_worker: Any) -> None:
    from hatchnb import Context, EmptyModel

    @hatchet.task()
    def numbers(input: EmptyModel, ctx: Context) -> list[int]:
        return list(range(500))

    start_worker(numbers)
    ref = numbers.run_no_wait()
    ref.result(timeout=20)
    p = page.open(f"?page=run&id={ref.workflow_run_id}")
    p.get_by_text("show all (").first.wait_for(timeout=15_000)
    assert p.get_by_role("button", name="Cancel run").is_disabled()
    assert p.get_by_role("button", name="Replay run").is_enabled()
    p.get_by_text("(no log lines)", exact=True).wait_for(timeout=5_000)
    height = p.evaluate("() => document.documentElement.scrollHeight")
    assert height < 2500, f"the page is {height} px tall"
    page.shot("run-finished")
    assert page.errors == []


def test_runs_table_shows_trigger_and_duration_and_finds_a_run_by_id(
    page: Any, seeded: dict[str, Any], hatchet: Any
) -> None:
    p = page.open("?page=runs")
    row = _row(p, seeded["ok"])
    row.wait_for(timeout=15_000)
    assert row.locator(".tabulator-cell[tabulator-field='trigger']").inner_text() == "manual"
    assert row.locator(".tabulator-cell[tabulator-field='duration']").inner_text().endswith("s")
    assert not p.locator(".tabulator-col[tabulator-field='id']").is_visible()  # one id column
    search = p.locator('input[placeholder="a run\'s id (UUID)"]')
    search.fill(seeded["failed"])
    search.press("Enter")
    wait_until(lambda: _row(p, seeded["ok"]).count() == 0, 10, "only the searched run")
    assert _row(p, seeded["failed"]).count() == 1
    search.fill("")
    search.press("Enter")
    box = p.locator("input[placeholder='team=ml']")
    box.fill("not a filter")
    box.press("Enter")
    p.get_by_text("write metadata filters as key=value").wait_for(timeout=10_000)
    wait_until(lambda: p.locator(".tabulator-row").count() == 0, 10, "no stale rows")
    assert page.errors == []


def test_pause_resume_and_backfill_a_cron_from_the_page(
    page: Any, seeded: dict[str, Any], hatchet: Any
) -> None:
    p = page.open("?page=triggers")
    row = p.locator(".tabulator-row", has_text="nightly")
    row.wait_for(timeout=15_000)
    row.locator(".tabulator-cell[tabulator-field='name']").click()
    p.get_by_role("button", name="Pause or resume cron").click()
    p.get_by_text("cron nightly paused").wait_for(timeout=10_000)
    assert hatchet.cron.get(seeded["cron"].id).paused
    row.locator(".tabulator-cell[tabulator-field='state']", has_text="paused").wait_for(
        timeout=5_000
    )
    p.get_by_role("button", name="Pause or resume cron").click()
    p.get_by_text("cron nightly resumed").wait_for(timeout=10_000)
    assert not hatchet.cron.get(seeded["cron"].id).paused
    # 0 3 * * *: the last 48 hours hold two ticks, each started once however often asked
    hours = p.locator(".bk-input-group", has_text="Backfill the last").locator("input")
    hours.fill("48")
    hours.press("Enter")
    p.get_by_role("button", name="Backfill cron").click()
    p.get_by_text("cron nightly: started 2 run(s)").wait_for(timeout=10_000)
    p.get_by_role("button", name="Backfill cron").click()
    p.get_by_text("cron nightly: started 0 run(s)").wait_for(timeout=10_000)
    assert page.errors == []


class Order(BaseModel):
    """At module level: a model defined in a test keeps that test's locals (pydantic's
    parent namespace), which cannot be pickled."""

    customer: str
    quantity: int = 1
    size: Literal["S", "M", "L"] = "M"


def test_run_a_workflow_from_the_form_its_input_schema_makes(
    page: Any, hatchet: Any, start_worker: Any
) -> None:
    from hatchnb import Context

    @hatchet.task(name="orders", input_validator=Order)
    def orders(input: Order, ctx: Context) -> dict[str, str]:
        return {"line": f"{input.quantity} x {input.size} for {input.customer}"}

    start_worker(orders)
    hatchet.register(orders)
    p = page.open("?page=workflows&name=orders")
    run = p.get_by_role("button", name="Run now")
    run.wait_for(timeout=15_000)
    run.click()  # the required customer is empty
    p.get_by_text("customer is required").wait_for(timeout=10_000)
    form = p.locator(".bk-input-group")
    form.filter(has_text="customer *").locator("input").fill("ada")
    quantity = form.filter(has_text="quantity").locator("input")
    quantity.fill("3")
    quantity.press("Enter")
    form.filter(has_text="size").locator("select").select_option("L")
    run.click()
    p.get_by_text("started run").wait_for(timeout=10_000)
    [started] = hatchet.runs.list(workflow_names=["orders"]).rows
    assert started.input == {"customer": "ada", "quantity": 3, "size": "L"}
    assert hatchet.runs.get_result(started.workflow_run_id) == {"orders": {"line": "3 x L for ada"}}
    assert hatchet.audit.list()[0].action == "run"
    page.shot("workflow-run-form")
    assert page.errors == []


def test_an_executed_notebook_downloads_as_ipynb_and_html(
    page: Any, seeded: dict[str, Any], db: Any, tmp_path: Path
) -> None:
    import json

    import nbformat

    run_id = seeded["ok"]
    task = db.execute(
        "SELECT id, attempt FROM hatchnb.task_runs WHERE run_id = %s AND task_name = 'extract'",
        (run_id,),
    ).fetchone()
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# the report")])
    stored = json.dumps(dict(notebook)).encode()
    db.execute(
        "INSERT INTO hatchnb.task_notebooks (task_run_id, attempt, run_id, task_name, notebook,"
        " failed) VALUES (%s, %s, %s, 'extract', %s, false)",
        (task["id"], task["attempt"], run_id, stored),
    )
    p = page.open(f"?page=run&id={run_id}")
    button = p.get_by_text("Download .ipynb")
    button.wait_for(timeout=15_000)
    files = {}
    for label in ("Download .ipynb", "Download .html"):
        with p.expect_download(timeout=15_000) as download:
            p.get_by_text(label).click()
        target = tmp_path / download.value.suggested_filename
        download.value.save_as(target)
        files[target.suffix] = target
    assert files[".ipynb"].name == f"{run_id}-extract-attempt{task['attempt']}.ipynb"
    assert json.loads(files[".ipynb"].read_bytes()) == json.loads(stored)
    assert "the report" in files[".html"].read_text()
    # the notebook's own scripts are blocked by its sandboxed frame, as they must be
    assert [e for e in page.errors if "frame is sandboxed" not in e] == []


def test_the_run_form_of_a_notebook_workflow_comes_from_its_parameters_cell(
    page: Any, hatchet: Any, tmp_path: Path
) -> None:
    from tests.notebook.test_notebook_form import write_report_notebook

    path = write_report_notebook(tmp_path / "report.ipynb")
    hatchet.register(hatchet.notebook_task(path, name="report"))
    p = page.open("?page=workflows&name=report")
    run = p.get_by_role("button", name="Run now")
    run.wait_for(timeout=15_000)
    form = p.locator(".bk-input-group")
    rows = form.filter(has_text="rows").locator("input")
    assert rows.input_value() == "3"
    assert form.filter(has_text="title").locator("input").input_value() == "weekly"
    rows.fill("7")
    rows.press("Enter")
    run.click()
    p.get_by_text("started run").wait_for(timeout=10_000)
    [started] = hatchet.runs.list(workflow_names=["report"]).rows
    assert started.input == {"rows": 7, "scale": 1.0, "title": "weekly"}
    page.shot("notebook-run-form")
    assert page.errors == []
