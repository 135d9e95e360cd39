"""What changed between two runs (``?page=diff&a=RUN_A&b=RUN_B``): per task, code changed
or not, statuses, and output differences; reached from a run's lineage links."""

from __future__ import annotations

import dataclasses
import html
import uuid

import panel as pn

from hatchnb import errors
from hatchnb.dashboard import common
from hatchnb.run_diff import RunDiff
from hatchnb.tree_diff import JsonDiff, NotebookDiff


def without_values(diff: RunDiff) -> RunDiff:
    """The diff with its input and output values left out, notebook cells' outputs and
    images too (viewers who may not see payloads still see which tasks and cells changed)."""
    return dataclasses.replace(
        diff,
        input=JsonDiff(),
        tasks=[
            dataclasses.replace(t, output=None, notebook=_cells_only(t.notebook))
            for t in diff.tasks
        ],
    )


def _cells_only(notebook: NotebookDiff | None) -> NotebookDiff | None:
    if notebook is None:
        return None
    blank = {"old_output": "", "new_output": "", "old_images": (), "new_images": ()}
    cells = [dataclasses.replace(c, **blank) for c in notebook.cells]  # type: ignore[arg-type]
    return dataclasses.replace(notebook, cells=cells)


def build(config: common.DashboardConfig, run_a: str | None, run_b: str | None) -> pn.Column:
    if not run_a or not run_b:
        text = "give two runs: ?page=diff&a=RUN_A&b=RUN_B"
        return pn.Column(pn.pane.HTML(common.message(text, "error")))
    try:
        uuid.UUID(run_a)
        uuid.UUID(run_b)
        diff = config.client.runs.diff(run_a, run_b)
    except (errors.RunNotFound, ValueError) as exc:
        return pn.Column(pn.pane.HTML(common.message(str(exc), "error")))
    note = ""
    if not common.shows_payloads(config):
        diff = without_values(diff)
        note = f"<p>{html.escape('inputs and outputs ' + common.HIDDEN)}</p>"
    title = (
        f"<h2>What changed</h2><p>A: {common.run_link(run_a)} → B: {common.run_link(run_b)}"
        f" · {len(diff.changed_tasks)} of {len(diff.tasks)} tasks differ</p>{note}"
    )
    return pn.Column(
        pn.pane.HTML(title, name="diff_header"),
        pn.pane.HTML(diff._repr_html_(), name="run_diff", sizing_mode="stretch_width"),
        sizing_mode="stretch_width",
    )
