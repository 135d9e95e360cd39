"""The pure parts of runs.fork and runs.diff: which tasks a fork reuses, and the JSON tree
and DataFrame diffs (no database)."""

from __future__ import annotations

import base64
import sys
from typing import Any

import pandas as pd
import pytest

from hatchnb import errors
from hatchnb.fork_plan import SourceTask, plan_fork
from hatchnb.run_diff import RunDiff, TaskSide, diff_task, task_code_hash
from hatchnb.tree_diff import (
    MAX_VALUE_CHARS,
    ImageDiff,
    diff_frames,
    diff_json,
    diff_notebooks,
)

#: a -> b -> d, a -> c (c is beside b: not downstream of it)
DAG = {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def _source(**statuses: str) -> dict[str, SourceTask]:
    return {n: SourceTask(statuses.get(n, "SUCCEEDED"), tuple(DAG[n])) for n in DAG}


def test_a_fork_reuses_every_succeeded_task_not_downstream_of_its_start() -> None:
    plan = plan_fork("r1", "wf", "b", DAG, _source())
    assert (plan.reused, plan.rerun) == (("a", "c"), ("b", "d"))


def test_a_fork_runs_again_a_task_beside_it_that_did_not_succeed() -> None:
    plan = plan_fork("r1", "wf", "b", DAG, _source(c="FAILED", d="CANCELLED"))
    assert (plan.reused, plan.rerun) == (("a",), ("b", "c", "d"))


def test_a_fork_from_a_root_reuses_what_does_not_depend_on_it() -> None:
    plan = plan_fork("r1", "wf", "a", DAG, _source())
    assert plan.reused == ()


def test_an_unknown_task_lists_the_valid_ones() -> None:
    with pytest.raises(errors.InvalidArgument, match=r"no such task; use one of: a, b, c, d"):
        plan_fork("r1", "wf", "x", DAG, _source())


def test_a_failed_upstream_task_names_the_task_to_fork_from() -> None:
    with pytest.raises(
        errors.InvalidArgument,
        match=r"upstream 'a' is FAILED, 'b' is CANCELLED, 'c' is CANCELLED; fork from 'a' instead",
    ):
        plan_fork("r1", "wf", "d", DAG, _source(a="FAILED", b="CANCELLED", c="CANCELLED"))


def test_an_upstream_task_the_current_version_dropped_is_named() -> None:
    current = {"b": [], "c": [], "d": ["b", "c"]}
    with pytest.raises(errors.InvalidWorkflow, match=r"no longer has 'a' upstream of 'd'"):
        plan_fork("r1", "wf", "d", current, _source())


def test_an_upstream_task_the_source_never_ran_is_named() -> None:
    current = {**DAG, "e": [], "d": ["b", "c", "e"]}
    with pytest.raises(errors.InvalidWorkflow, match=r"no output of 'e'.*fork from 'e'"):
        plan_fork("r1", "wf", "d", current, _source())


# ---- JSON tree diff -------------------------------------------------------------------------


def test_json_diff_lists_added_removed_and_changed_paths() -> None:
    old = {"a": 1, "b": {"c": [1, 2, 3]}, "gone": True}
    new = {"a": 2, "b": {"c": [1, 5]}, "new": None}
    diff = diff_json(old, new)
    got = [(c.where, c.kind, c.old, c.new) for c in diff.changes]
    assert got == [
        ("$.a", "changed", 1, 2),
        ("$.b.c[1]", "changed", 2, 5),
        ("$.b.c[2]", "removed", 3, None),
        ("$.gone", "removed", True, None),
        ("$.new", "added", None, None),
    ]
    assert not diff.same and not diff.truncated


def test_json_diff_of_equal_values_is_empty_and_tells_1_from_true() -> None:
    assert diff_json({"x": [1, {"y": "z"}]}, {"x": [1, {"y": "z"}]}).same
    assert [c.kind for c in diff_json([1], [True]).changes] == ["changed"]
    assert [c.where for c in diff_json(1, "1").changes] == ["$"]


def test_json_diff_is_size_limited() -> None:
    diff = diff_json(list(range(1000)), list(range(1, 1001)), limit=10)
    assert (len(diff.changes), diff.total, diff.truncated) == (10, 1000, True)
    big = diff_json({"k": "x" * 5000}, {"k": "y"})
    shown = big.changes[0].old
    assert isinstance(shown, str) and shown.endswith("(5002 characters)")
    assert len(shown) < MAX_VALUE_CHARS + 40


# ---- DataFrames ----------------------------------------------------------------------------


def test_frame_diff_by_shape_columns_dtypes_rows_and_cells() -> None:
    a = pd.DataFrame({"x": [1, 2, 3], "y": [0.5, None, 1.0], "gone": [1, 1, 1]})
    b = pd.DataFrame({"x": [1.0, 9.0, 3.0, 4.0], "y": [0.5, None, 2.0, 0.0], "z": list("abcd")})
    diff = diff_frames(a, b)
    assert (diff.shape_a, diff.shape_b) == ((3, 3), (4, 3))
    assert (diff.columns_added, diff.columns_removed) == (["z"], ["gone"])
    assert diff.dtypes_changed == {"x": ("int64", "float64")}
    assert (diff.rows_added, diff.rows_removed) == (1, 0)
    assert [(c.row, c.column, c.old, c.new) for c in diff.cells] == [
        (1, "x", 2, 9.0),
        (2, "y", 1.0, 2.0),
    ]  # NaN against NaN is no change
    assert not diff.same
    assert diff_frames(a, a.copy()).same


def _side(output: Any, source: str = "def f(): ...", status: str = "SUCCEEDED") -> TaskSide:
    return TaskSide(status, output, None, False, 1, task_code_hash({"name": "t"}, source))


def test_task_diff_uses_the_frame_diff_for_two_frames_and_renders_it() -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    changed = diff_task("t", _side(frame), _side(frame.assign(x=[1, 3]), "def f(): 2"))
    assert changed.code_changed is True
    run = RunDiff("A", "B", "wf", "wf", "SUCCEEDED", "SUCCEEDED", diff_json({}, {}), [changed])
    assert "[1, x]: 2 -> 3" in run.to_text()
    assert run.changed_tasks == ["t"]


def test_task_diff_of_a_failed_side_compares_status_only() -> None:
    d = diff_task("t", _side({"n": 1}), _side(None, status="FAILED"))
    assert d.output is None and d.status_changed and not d.same
    only = diff_task("t", None, _side(1))
    assert only.code_changed is None and not only.same


def test_html_rendering_escapes_values() -> None:
    d = diff_task("<t>", _side({"k": "<script>"}), _side({"k": "b"}))
    run = RunDiff("A", "B", "wf", "wf", "SUCCEEDED", "SUCCEEDED", diff_json({}, {}), [d])
    page = run._repr_html_()
    assert "<script>" not in page and "&lt;script&gt;" in page and 'data-task="&lt;t&gt;"' in page


# ---- executed notebooks ---------------------------------------------------------------------


def _cell(source: str, *outputs: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "source": source, "outputs": list(outputs), "metadata": {}}


def _png(data: str) -> dict[str, Any]:
    return {"output_type": "display_data", "data": {"image/png": data}, "metadata": {}}


def test_notebook_diff_by_cell_ignores_counts_and_sees_images() -> None:
    stream = {"output_type": "stream", "name": "stdout", "text": ["a\n", "b\n"]}
    a = {
        "cells": [
            _cell(
                "x = 1",
                {
                    "output_type": "execute_result",
                    "data": {"text/plain": "1"},
                    "execution_count": 1,
                },
            ),
            _cell("plot()", _png("AAAA")),
            _cell("print('a'); print('b')", stream),
        ]
    }
    b = {
        "cells": [
            _cell(
                "x = 1",
                {
                    "output_type": "execute_result",
                    "data": {"text/plain": "1"},
                    "execution_count": 7,
                },
            ),
            _cell("plot()", _png("BBBB")),
            _cell("print('a'); print('b')", stream),
            _cell(
                "raise ValueError('no')",
                {"output_type": "error", "ename": "ValueError", "evalue": "no", "traceback": []},
            ),
        ]
    }
    diff = diff_notebooks(a, b)
    got = [(c.index, c.kind, c.source_changed, c.outputs_changed) for c in diff.cells]
    assert got == [(1, "changed", False, True), (3, "added", True, True)]
    assert diff.cells[0].old_output.startswith("[image/png ")
    assert diff.cells[1].new_output == "ValueError: no"
    assert diff_notebooks(a, a).same


def _tiny_png(colour: tuple[int, int, int], size: int = 2) -> bytes:
    """A real PNG (size x size, one colour) made with matplotlib's writer."""
    import io

    import matplotlib.image
    import numpy as np

    pixels = np.zeros((size, size, 3), dtype=np.uint8)
    pixels[:, :] = colour
    buffer = io.BytesIO()
    matplotlib.image.imsave(buffer, pixels, format="png")
    return buffer.getvalue()


def test_an_inserted_cell_leaves_the_cells_after_it_matched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    a = {"cells": [_cell("load()"), _cell("plot()", _png("AAAA")), _cell("save()")]}
    b = {
        "cells": [_cell("load()"), _cell("clean()"), _cell("plot()", _png("AAAA")), _cell("save()")]
    }
    aligned = diff_notebooks(a, b)
    assert aligned.aligned_by == "nbdime"
    assert [(c.index, c.kind) for c in aligned.cells] == [(1, "added")]
    monkeypatch.setitem(sys.modules, "nbdime", None)  # as if hatchnb[nbdime] were not installed
    by_position = diff_notebooks(a, b)
    assert by_position.aligned_by == "position"
    assert [(c.index, c.kind) for c in by_position.cells] == [
        (1, "changed"), (2, "changed"), (3, "added"),
    ]  # fmt: skip


def test_changed_images_are_shown_side_by_side() -> None:
    red = base64.b64encode(_tiny_png((255, 0, 0))).decode()
    blue = base64.b64encode(_tiny_png((0, 0, 255))).decode()
    a = {"cells": [_cell("plot()", _png(red)), _cell("print(1)")]}
    b = {"cells": [_cell("plot()", _png(blue)), _cell("print(1)")]}
    notebook = diff_notebooks(a, b)
    [cell] = notebook.cells
    assert cell.old_images == (("image/png", red),) and cell.new_images == (("image/png", blue),)
    side = TaskSide("SUCCEEDED", {}, None, False, 1, "h", notebook=a)
    other = TaskSide("SUCCEEDED", {}, None, False, 1, "h", notebook=b)
    run = RunDiff("A", "B", "wf", "wf", "SUCCEEDED", "SUCCEEDED", diff_json({}, {}), [
        diff_task("report", side, other),
    ])  # fmt: skip
    page = run._repr_html_()
    assert f'src="data:image/png;base64,{red}"' in page
    assert f'src="data:image/png;base64,{blue}"' in page
    assert page.index(red) < page.index(blue)  # A on the left


def test_image_outputs_are_compared_as_images() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    def figure(points: list[int]) -> Any:
        fig = Figure(figsize=(2, 1), dpi=50)
        fig.add_subplot().plot(points)
        return fig

    red, blue = _tiny_png((255, 0, 0), 3), _tiny_png((0, 0, 255), 3)
    changed = diff_task("chart", _side(red), _side(blue))
    assert isinstance(changed.output, ImageDiff)
    assert not changed.output.same and changed.output.size_a == (3, 3)
    assert diff_task("chart", _side(red), _side(red)).same
    plotted = diff_task("plot", _side(figure([1, 2])), _side(figure([2, 1])))
    assert isinstance(plotted.output, ImageDiff) and plotted.output.size_b == (100, 50)
    run = RunDiff("A", "B", "wf", "wf", "SUCCEEDED", "SUCCEEDED", diff_json({}, {}), [plotted])
    assert "image 100x50 -> 100x50: changed" in run.to_text()
    assert run._repr_html_().count("<img ") == 2
