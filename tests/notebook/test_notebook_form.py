"""``%hatchet form`` for a notebook task: its fields come from the notebook's papermill
``parameters`` cell (names, types from the literals, defaults), and the run it starts
executes the notebook with those values (papermill in a worker process)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import ipywidgets as w
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from tests.notebook.test_magics import ip, magic

__all__ = ["ip"]  # the fixture, shared with test_magics


def write_report_notebook(path: Path) -> Path:
    params = new_code_cell('rows = 3  # rows to sum\nscale = 1.0\ntitle = "weekly"')
    params.metadata["tags"] = ["parameters"]
    body = new_code_cell(
        "import hatchnb\nhatchnb.output('total', rows * scale)\nhatchnb.output('title', title)"
    )
    nbformat.write(new_notebook(cells=[params, body]), path)
    return path


def test_the_form_of_a_notebook_task_comes_from_its_parameters_cell(
    ip: Any, worker_process: Any, tmp_path: Path
) -> None:
    path = write_report_notebook(tmp_path / "report.ipynb")
    ip.run_cell(
        "from hatchnb import Hatchet\nhatchet = Hatchet()\n"
        f"report = hatchet.notebook_task({str(path)!r}, name='report')\nhatchet.register(report)"
    )
    form = magic(ip, "form report")
    assert list(form.inputs) == ["rows", "scale", "title"]
    rows, scale, title = form.inputs.values()
    assert isinstance(rows, w.IntText) and rows.value == 3
    assert isinstance(scale, w.FloatText) and scale.value == 1.0
    assert isinstance(title, w.Text) and title.value == "weekly"
    assert rows.tooltip == "rows to sum"
    worker_process("--slots", "2")  # papermill's kernel runs there, not in pytest
    rows.value = 4
    scale.value = 2.5
    form.buttons["run"].click()
    assert "started run" in form.message.value, form.message.value
    assert form.started.result(timeout=120) == {"report": {"total": 10.0, "title": "weekly"}}
    # the run widget's "Run again…": the same form, filled with that run's input
    from hatchnb.widgets.run_widget import RunWidget

    widget = RunWidget(ip.user_ns["hatchet"], form.started.workflow_run_id)
    widget.again_button.click()
    again = widget.again_form
    assert again is not None and widget.again_area.children == (again.box,)
    values = {name: field.value for name, field in again.inputs.items()}
    assert values == {"rows": 4, "scale": 2.5, "title": "weekly"}
    again.inputs["title"].value = "monthly"
    again.buttons["run"].click()
    assert "started run" in again.message.value, again.message.value
    assert again.started.result(timeout=120) == {"report": {"total": 10.0, "title": "monthly"}}
