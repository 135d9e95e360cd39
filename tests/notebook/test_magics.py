"""%hatchet / %%hatchet in IPython's InteractiveShell against a real database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

from tests.conftest import wait_until


@pytest.fixture
def ip(dsn: str) -> Iterator[Any]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "hatchnb")
    yield shell
    shell.run_line_magic("unload_ext", "hatchnb")
    client = shell.user_ns.get("hatchet")
    shell.reset(new_session=False)  # type: ignore[no-untyped-call]
    InteractiveShell.clear_instance()
    if client is not None:
        client.close()


def magic(ip: Any, line: str) -> Any:
    return ip.run_line_magic("hatchet", line)


def cell(ip: Any, line: str, body: str) -> Any:
    return ip.run_cell_magic("hatchet", line, body)


@pytest.mark.parametrize(
    ("line", "fix"),
    [
        ("explode", "invalid choice"),
        ("run", "the following arguments are required: WF"),
        ("run etl -i notjson", "-i is not valid JSON"),
        ("run 'etl", "close the quotes"),
        ("runs --limit many", "invalid int value"),
        ("schedule etl", "one of the arguments --at --in is required"),
        ("worker start --label gpu", "write it as key=value"),
        ("task x", "needs a cell body"),
    ],
)
def test_bad_arguments_say_what_to_fix(ip: Any, line: str, fix: str) -> None:
    ip.user_ns["hatchet"] = None  # the magic must not need a database to refuse
    with pytest.raises(UsageError, match=fix):
        magic(ip, line)


def test_usage_error_in_a_cell_is_reported_without_traceback(ip: Any) -> None:
    with capture_output() as cap:
        result = ip.run_cell("%hatchet run nothing_here")
    assert not result.success
    assert "UsageError" in cap.stderr + cap.stdout
    assert "Traceback" not in cap.stderr + cap.stdout
    assert "no workflow named 'nothing_here'" in cap.stderr + cap.stdout


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("logs not-a-run", "'not-a-run' is not a workflow run id"),
        ("cancel 00000000-0000-0000-0000-000000000000", "no workflow run"),
    ],
)
def test_a_bad_run_id_is_one_line(ip: Any, line: str, said: str) -> None:
    with capture_output() as cap:
        result = ip.run_cell(f"%hatchet {line}")
    assert not result.success
    assert said in cap.stderr + cap.stdout
    assert "Traceback" not in cap.stderr + cap.stdout


def test_help(ip: Any) -> None:
    with capture_output() as cap:
        magic(ip, "help")
        magic(ip, "cron --help")
    assert "%%hatchet task NAME" in cap.stdout
    assert "add|ls|rm" in cap.stdout


def test_cells_become_a_dag_run_by_the_in_kernel_worker(ip: Any) -> None:
    cell(ip, "task extract --workflow etl", "{'rows': [1, 2, 3]}")
    cell(ip, "task load --workflow etl --parents extract", "{'n': len(extract['rows'])}")
    wf = ip.user_ns["hatchet"]
    with capture_output() as cap:
        started = magic(ip, "worker start --slots 4")
    assert started is None  # it says what it did; no Worker repr echoed in the notebook
    assert "started in this kernel with 4 slots" in cap.stdout
    try:
        # the worker has its own thread and loop: it is running already
        status = magic(ip, "worker status")
        assert status["alive"] and status["slots"] == 4
        result = magic(ip, "run etl --wait")
        assert result == {"extract": {"rows": [1, 2, 3]}, "load": {"n": 3}}
        ref = magic(ip, "run etl")
        assert ref.result(timeout=30)["load"] == {"n": 3}
        with capture_output() as cap:
            magic(ip, f"logs {ref.workflow_run_id}")
        assert "no log lines" in cap.stdout
        table = magic(ip, "runs --workflow etl")
        assert len(table.runs) == 2
        view = magic(ip, f"dag {ref.workflow_run_id}")
        assert view.statuses() == {"extract": "SUCCEEDED", "load": "SUCCEEDED"}
        assert 'data-task="load" data-status="SUCCEEDED"' in view.widget.value
        assert magic(ip, "dag etl").parents == {"extract": [], "load": ["extract"]}
    finally:
        magic(ip, "worker stop")
    assert magic(ip, "worker status")["alive"] is False
    assert wf is not None


def test_def_cell_and_standalone_task(ip: Any) -> None:
    cell(ip, "task double --retries 1", "def double(input, ctx):\n    return input['x'] * 2\n")
    assert ip.user_ns["double"].name == "double"
    magic(ip, "worker start")
    try:
        assert magic(ip, """run double -i '{"x": 21}' --wait""") == 42
    finally:
        magic(ip, "worker stop")


def test_edit_and_rerun_replays_only_failed_tasks_with_the_new_code(ip: Any) -> None:
    ip.run_cell("calls = []")
    cell(ip, "task extract --workflow fix", "calls.append('extract')\n{'v': 10}")
    cell(ip, "task divide --workflow fix --parents extract", "extract['v'] / 0")
    cell(ip, "task report --workflow fix --parents divide", "{'text': f'{divide}'}")
    magic(ip, "worker start")
    try:
        ref = magic(ip, "run fix")
        with pytest.raises(Exception, match="ZeroDivisionError"):
            ref.result(timeout=30)
        hatchet = ip.user_ns["hatchet"]
        first_version = hatchet.runs.get(ref.workflow_run_id).version_id
        # fix the cell and run it again: same task, new version
        cell(ip, "task divide --workflow fix --parents extract", "extract['v'] / 4")
        widget = magic(ip, f"replay {ref.workflow_run_id}")
        assert widget.result(timeout=30)["report"] == {"text": "2.5"}
        run = hatchet.runs.get(ref.workflow_run_id)
        attempts = {t.task_name: t.attempt for t in run.tasks}
        assert attempts == {"extract": 1, "divide": 2, "report": 1}
        assert ip.user_ns["calls"] == ["extract"]  # upstream output was reused
        assert run.version_id != first_version
    finally:
        magic(ip, "worker stop")


def test_reexecuting_a_decorated_cell_replaces_the_task(ip: Any) -> None:
    ip.run_cell(
        "from hatchnb import Hatchet\nhatchet = Hatchet()\nwf = hatchet.workflow(name='re')"
    )
    body = "@wf.task()\ndef step(input, ctx):\n    return {'v': VALUE}\n"
    ip.run_cell(body.replace("VALUE", "1")).raise_error()
    v1 = ip.user_ns["hatchet"].register(ip.user_ns["wf"])
    ip.run_cell(body.replace("VALUE", "2")).raise_error()
    assert [t.name for t in ip.user_ns["wf"].tasks] == ["step"]
    v2 = ip.user_ns["hatchet"].register(ip.user_ns["wf"])
    assert v2 != v1


def test_triggers_from_magics(ip: Any, db: Any) -> None:
    cell(ip, "task nightly", "{'ok': True}")
    cron = magic(ip, "cron add every-day nightly '0 6 * * *' -i '{\"a\": 1}'")
    with capture_output() as cap:
        magic(ip, "cron ls")
    assert "every-day" in cap.stdout and "'0 6 * * *'" in cap.stdout
    magic(ip, f"cron rm {cron.id}")
    assert db.execute("SELECT count(*) AS n FROM hatchnb.crons").fetchone()["n"] == 0
    with pytest.raises(UsageError, match="5-field cron"):
        magic(ip, "cron add bad nightly 'not a cron'")
    scheduled = magic(ip, "schedule nightly --in 3600")
    assert scheduled.workflow_name == "nightly"
    event = magic(ip, """event push user:signup -p '{"id": 7}'""")
    assert json.loads(event.payload) == {"id": 7}  # hatchet_sdk's Event: JSON text
    ref = magic(ip, "run nightly")
    magic(ip, f"cancel {ref.workflow_run_id}")
    hatchet = ip.user_ns["hatchet"]
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == "CANCELLED")


def test_dashboard_magic_starts_and_stops_the_dashboard(ip: Any) -> None:
    with capture_output() as cap:
        handle = magic(ip, "dashboard")
    try:
        assert handle.url.startswith("http://127.0.0.1:")
        assert f"dashboard: {handle.url}" in cap.stdout
    finally:
        magic(ip, "dashboard --stop")


def test_the_form_runs_schedules_and_crons_a_workflow_from_its_input_schema(ip: Any) -> None:
    ip.run_cell(
        """
from typing import Literal
from pydantic import BaseModel
from hatchnb import Context, Hatchet

class Order(BaseModel):
    customer: str
    quantity: int = 1
    size: Literal["S", "M", "L"] = "M"

hatchet = Hatchet()

@hatchet.task(name="orders", input_validator=Order)
def orders(input: Order, ctx: Context) -> dict:
    return {"line": f"{input.quantity} x {input.size} for {input.customer}"}
"""
    )
    magic(ip, "worker start --slots 2")
    form = magic(ip, "form orders")
    assert list(form.inputs) == ["customer", "quantity", "size"]
    form.buttons["run"].click()  # the required customer is still empty
    assert "customer is required" in form.message.value
    form.inputs["customer"].value = "ada"
    form.inputs["quantity"].value = 3
    form.inputs["size"].value = "L"
    form.buttons["run"].click()
    assert "started run" in form.message.value, form.message.value
    assert form.started.result(timeout=30) == {"orders": {"line": "3 x L for ada"}}
    form.run_at.value = "2031-01-02T03:04"
    form.buttons["schedule"].click()
    assert "at 2031-01-02 03:04 UTC" in form.message.value, form.message.value
    hatchet = ip.user_ns["hatchet"]
    [scheduled] = hatchet.scheduled.list().rows
    assert scheduled.input == {"customer": "ada", "quantity": 3, "size": "L"}
    form.cron_name.value = "daily-order"
    form.buttons["cron"].click()
    assert "cron daily-order created" in form.message.value, form.message.value
    magic(ip, "worker stop")
    with pytest.raises(UsageError, match="no registered workflow"):
        magic(ip, "form nothing_here")
