"""Stored XSS: names, inputs, logs and notebook outputs that carry HTML stay text on every
page (issue 19, finding 2)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hatchnb import Context
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.integration]

#: runs in the dashboard's page if any place renders it as HTML
PAYLOAD = '<img src=x onerror="window.top.__xss=(window.top.__xss||[]).concat(location.href)">'


@pytest.fixture
def hostile(hatchet: Any, start_worker: Any) -> dict[str, Any]:
    """A workflow, task, run, log line, error, cron, event, worker label and rate limit, each
    named or filled with HTML that would run script."""
    wf = hatchet.workflow(name=f"wf {PAYLOAD}")

    @wf.task(name=f"task {PAYLOAD}")
    def first(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        # lines at column 0 close a Markdown code fence around the source
        note = """
```
<img src=x onerror="window.top.__xss=['source']">
```
"""
        ctx.log(f"log {PAYLOAD} {len(note)}")
        return {"out": PAYLOAD}

    @wf.task(name="fails", parents=[first])
    def fails(input: dict[str, Any], ctx: Context) -> None:
        raise ValueError(f"error {PAYLOAD}")

    worker = start_worker(wf, slots=2)
    ref = wf.run_no_wait({"in": PAYLOAD}, options=_metadata({"team": PAYLOAD}))
    wait_until(lambda: str(ref.status()) == "FAILED", 20, "the hostile run fails")
    hatchet.cron.create(wf.name, f"cron {PAYLOAD}", "0 3 * * *", {"in": PAYLOAD})
    hatchet.event.push(f"event {PAYLOAD}", {"in": PAYLOAD})
    hatchet.rate_limits.put(f"limit {PAYLOAD}", 10)
    return {"workflow": wf, "run": str(ref), "worker": worker}


def _metadata(metadata: dict[str, str]) -> Any:
    from hatchnb.types import TriggerWorkflowOptions

    return TriggerWorkflowOptions(additional_metadata=metadata)


def _record_dialogs(page: Any) -> list[str]:
    """The messages of alert/confirm dialogs the page opens (each dismissed)."""
    dialogs: list[str] = []

    def record(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    return dialogs


def _no_script_ran(page: Any, dialogs: list[str]) -> None:
    ran = page.evaluate("() => window.__xss || null")
    assert ran is None, f"injected script ran: {ran}"
    assert dialogs == []


def test_hostile_names_show_as_text_on_every_page(page: Any, hostile: dict[str, Any]) -> None:
    dialogs = _record_dialogs(page.page)
    wf_name = hostile["workflow"].name
    shown = {
        "runs": [wf_name, f"team={PAYLOAD}"],
        f"run&id={hostile['run']}": [f"log {PAYLOAD}", f"error {PAYLOAD}", "fails"],
        "workflows": [wf_name, f"task {PAYLOAD}"],
        "workers": ["test-worker"],
        "triggers": [f"cron {PAYLOAD}"],
        "events": [f"event {PAYLOAD}"],
        "flow": [f"limit {PAYLOAD}"],
        "alerts": ["Slack incoming webhook URL"],
        "metrics": ["queued now"],
    }
    for query, texts in shown.items():
        p = page.open(f"?page={query}")
        for text in texts:
            visible = p.get_by_text(text, exact=False).filter(visible=True)
            visible.first.wait_for(state="visible", timeout=15_000)
        _open_pickers(p)
        p.wait_for_timeout(300)  # let any injected <img> fail to load and fire onerror
        _no_script_ran(p, dialogs)
    # the DAG, the Gantt chart and the sources name the task too
    p = page.open(f"?page=workflows&name={_quote(wf_name)}")
    p.get_by_text("def first", exact=False).first.wait_for(state="visible", timeout=15_000)
    p.wait_for_timeout(300)
    _no_script_ran(p, dialogs)


def _open_pickers(page: Any) -> None:
    """Open the workflow pickers: their options are rendered only when opened."""
    for picker in page.locator(".choices").all():
        picker.click()
        page.keyboard.press("Escape")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


def test_notebook_output_is_sandboxed(
    page: Any, hatchet: Any, seeded: dict[str, Any], db: Any
) -> None:
    import nbformat

    run_id = seeded["ok"]
    task = db.execute(
        "SELECT id, attempt FROM hatchnb.task_runs WHERE run_id = %s AND task_name = 'extract'",
        (run_id,),
    ).fetchone()
    db.execute(
        "INSERT INTO hatchnb.task_notebooks (task_run_id, attempt, run_id, task_name, notebook,"
        " failed) VALUES (%s, %s, %s, 'extract', %s, false)",
        (task["id"], task["attempt"], run_id, json.dumps(_hostile_notebook(nbformat)).encode()),
    )
    dialogs = _record_dialogs(page.page)
    p = page.open(f"?page=run&id={run_id}")
    frame_element = p.locator("iframe").first
    frame_element.content_frame.get_by_text("cell output").first.wait_for(timeout=15_000)
    p.wait_for_timeout(500)
    _no_script_ran(p, dialogs)
    sandbox = frame_element.get_attribute("sandbox")
    assert sandbox is not None and "allow-same-origin" not in sandbox.split()
    srcdoc = frame_element.get_attribute("srcdoc") or ""
    assert "Content-Security-Policy" in srcdoc and "script-src 'none'" in srcdoc


def _hostile_notebook(nbformat: Any) -> dict[str, Any]:
    cell = nbformat.v4.new_code_cell("display(HTML(...))")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "text/html": "<p>cell output</p>"
                "<script>window.top.__xss=['script']; alert('script')</script>" + PAYLOAD,
                "text/plain": "cell output",
            },
        )
    ]
    return dict(nbformat.v4.new_notebook(cells=[cell]))
