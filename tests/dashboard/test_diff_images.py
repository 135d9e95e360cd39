"""The diff page shows a notebook task's changed plots side by side: the notebook runs with
papermill on a worker process (a real kernel) with two parameters, and Chromium reads the
two images of the changed cell from the page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PLOT = """\
import io
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from IPython.display import Image, display

fig, ax = plt.subplots(figsize=(2, 1.5), dpi=60)
ax.plot(range(points), [p * p for p in range(points)])
buffer = io.BytesIO()
fig.savefig(buffer, format="png")
plt.close(fig)
display(Image(data=buffer.getvalue()))
"""


def test_changed_plots_of_a_notebook_task_side_by_side(
    page: Any, hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    params = new_code_cell("points = 3")
    params.metadata["tags"] = ["parameters"]
    path = tmp_path / "chart.ipynb"
    nbformat.write(new_notebook(cells=[params, new_code_cell(PLOT)]), path)
    task = hatchet.notebook_task(path, name="chart")
    hatchet.register(task)
    worker_process("--slots", "2")
    one, two = task.run_no_wait({"points": 3}), task.run_no_wait({"points": 6})
    one.result(timeout=120)
    two.result(timeout=120)
    diff = hatchet.runs.diff(one.workflow_run_id, two.workflow_run_id)
    notebook = diff.tasks[0].notebook
    assert notebook is not None and notebook.aligned_by == "nbdime"
    [plotted] = [c for c in notebook.cells if c.old_images]
    assert plotted.new_images and plotted.old_images != plotted.new_images
    p = page.open(f"?page=diff&a={one.workflow_run_id}&b={two.workflow_run_id}")
    images = p.locator(".hatchnb-images img")
    images.first.wait_for(state="visible", timeout=15_000)
    assert images.count() == 2
    boxes = [images.nth(i).bounding_box() for i in range(2)]
    assert all(box is not None and box["width"] > 50 for box in boxes)
    assert boxes[0]["x"] < boxes[1]["x"] and abs(boxes[0]["y"] - boxes[1]["y"]) < 5
    # Panel renders inside shadow roots: the locator reaches the images there
    loaded = images.evaluate_all("els => els.map(i => i.complete && i.naturalWidth)")
    assert loaded == [120, 120]  # 2 in x 60 dpi, decoded by the browser
    page.shot("diff-images")
    assert page.errors == []
