"""runs.fork and runs.diff (issue 18): a fork reuses the outputs upstream of the chosen task
without executing it again, runs that task and what is downstream with the newest
registered code, and is refused with a clear error (and nothing written) when it cannot."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import BaseModel

from hatchnb import Context, FailedRunError, errors

pytestmark = pytest.mark.integration


class Params(BaseModel):
    k: int = 1


def _loop_workflow(hatchet: Any, calls: Path, version: str, rename_root: bool = False) -> Any:
    """extract -> transform -> load, each appending ``<task>:<version>`` to ``calls`` (one
    line per execution; the worker is another process)."""
    wf = hatchet.workflow(name="loop", input_validator=Params)
    root_name = "extract2" if rename_root else "extract"

    def note(task: str) -> None:
        with calls.open("a") as f:
            f.write(f"{task}:{version}\n")

    @wf.task(name=root_name)
    def extract(input: Params, ctx: Context) -> dict[str, Any]:
        note("extract")
        return {"rows": [1, 2, 3]}

    if version == "v1":

        @wf.task(parents=[extract])
        def transform(input: Params, ctx: Context) -> dict[str, Any]:
            note("transform")
            return {"total": sum(ctx.task_output(extract)["rows"]) * input.k, "version": version}

    else:  # the edited cell

        @wf.task(parents=[extract])
        def transform(input: Params, ctx: Context) -> dict[str, Any]:
            note("transform")
            total = sum(ctx.task_output(extract)["rows"]) * input.k
            return {"total": total + 100, "version": version}

    @wf.task(parents=[transform])
    def load(input: Params, ctx: Context) -> dict[str, Any]:
        note("load")
        return {"loaded": ctx.task_output(transform)["total"]}

    hatchet.register(wf)
    return wf


def _executions(calls: Path) -> list[str]:
    return calls.read_text().split()


def test_fork_reuses_upstream_and_runs_downstream_with_the_new_code(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    v1 = _loop_workflow(hatchet, calls, "v1")
    worker_process("--slots", "2")
    source = v1.run_no_wait({"k": 1})
    assert source.result(timeout=30)["load"] == {"loaded": 6}

    _loop_workflow(hatchet, calls, "v2")  # the edited cell, registered again
    fork = hatchet.runs.fork(source.workflow_run_id, from_task="transform")
    result = fork.result(timeout=30)

    assert result["extract"] == {"rows": [1, 2, 3]}  # the reused output is in the result
    assert result["transform"] == {"total": 106, "version": "v2"}
    assert result["load"] == {"loaded": 106}
    assert _executions(calls) == [
        "extract:v1", "transform:v1", "load:v1", "transform:v2", "load:v2"
    ]  # fmt: skip
    run = hatchet.runs.get(fork.workflow_run_id)
    original = {t.task_name: t for t in hatchet.runs.get(source.workflow_run_id).tasks}
    tasks = {t.task_name: t for t in run.tasks}
    assert (run.forked_from, run.forked_at_task) == (source.workflow_run_id, "transform")
    assert run.trigger == "fork"
    assert tasks["extract"].reused_from == original["extract"].id
    assert tasks["extract"].status == "SUCCEEDED"
    assert not tasks["transform"].reused and not tasks["load"].reused
    listed = hatchet.runs.list(workflow_names=["loop"])
    assert {r.workflow_run_id: r.forked_from for r in listed} == {
        source.workflow_run_id: None,
        fork.workflow_run_id: source.workflow_run_id,
    }
    assert [f["run_id"] for f in hatchet.runs.forks(source.workflow_run_id)] == [
        fork.workflow_run_id
    ]

    diff = hatchet.runs.diff(source.workflow_run_id, fork.workflow_run_id)
    by_task = {t.task_name: t for t in diff.tasks}
    assert diff.input.same
    assert by_task["extract"].code_changed is False and by_task["extract"].same
    assert by_task["transform"].code_changed is True
    changes = {c.where: (c.old, c.new) for c in by_task["transform"].output.changes}
    assert changes == {"$.total": (6, 106), "$.version": ("v1", "v2")}
    assert diff.changed_tasks == ["transform", "load"]
    text = diff.to_text()
    assert "~ $.total: 6 -> 106" in text and "extract: same code, SUCCEEDED (reused)" in text


def test_fork_with_a_new_input_and_a_fork_of_a_fork(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    wf = _loop_workflow(hatchet, calls, "v1")
    worker_process("--slots", "2")
    source = wf.run_no_wait({"k": 1})
    source.result(timeout=30)
    fork = hatchet.runs.fork(source.workflow_run_id, "transform", input={"k": 10})
    assert fork.result(timeout=30)["load"] == {"loaded": 60}
    assert hatchet.runs.get(fork.workflow_run_id).input == {"k": 10}
    again = asyncio.run(hatchet.runs.aio_fork(fork.workflow_run_id, "load"))
    assert again.result(timeout=30)["load"] == {"loaded": 60}
    assert _executions(calls).count("extract:v1") == 1
    assert _executions(calls).count("transform:v1") == 2
    tasks = {t.task_name: t for t in hatchet.runs.get(again.workflow_run_id).tasks}
    first = {t.task_name: t for t in hatchet.runs.get(source.workflow_run_id).tasks}
    # a fork of a fork points at the task run that was executed
    assert tasks["extract"].reused_from == first["extract"].id
    assert tasks["transform"].reused_from is not None
    diff = asyncio.run(hatchet.runs.aio_diff(source.workflow_run_id, fork.workflow_run_id))
    assert [(c.where, c.old, c.new) for c in diff.input.changes] == [("$.k", 1, 10)]


def _run_count(db: Any) -> int:
    return int(db.execute("SELECT count(*) AS n FROM hatchnb.workflow_runs").fetchone()["n"])


def test_fork_errors_say_what_to_fix_and_write_nothing(
    hatchet: Any, start_worker: Any, db: Any, tmp_path: Path
) -> None:
    calls = tmp_path / "calls"
    wf = _loop_workflow(hatchet, calls, "v1")
    worker = start_worker(wf)
    source = wf.run_no_wait()
    source.result(timeout=30)
    worker.stop(timeout=10)
    before = _run_count(db)
    run_id = source.workflow_run_id

    with pytest.raises(errors.RunNotFound, match="no workflow run has the id"):
        hatchet.runs.fork("00000000-0000-0000-0000-000000000000", "transform")
    with pytest.raises(errors.RunNotFound, match="not a workflow run id"):
        hatchet.runs.fork("nope", "transform")
    with pytest.raises(errors.InvalidArgument, match="use one of: extract, load, transform"):
        hatchet.runs.fork(run_id, "transfrom")
    _loop_workflow(hatchet, calls, "v3", rename_root=True)
    with pytest.raises(errors.InvalidWorkflow, match="no longer has 'extract' upstream"):
        hatchet.runs.fork(run_id, "transform")
    assert _run_count(db) == before


def test_fork_refuses_a_failed_upstream_and_names_the_task_to_fork_from(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="broken")

    @wf.task()
    def first(input: Any, ctx: Context) -> None:
        raise RuntimeError("bug")

    @wf.task(parents=[first])
    def second(input: Any, ctx: Context) -> None:
        return None

    start_worker(wf)
    ref = wf.run_no_wait()
    with pytest.raises(FailedRunError):
        ref.result(timeout=30)
    with pytest.raises(errors.InvalidArgument, match="'first' is FAILED; fork from 'first'"):
        hatchet.runs.fork(ref.workflow_run_id, "second")


def test_diff_of_pickled_dataframes_by_shape_columns_and_cells(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="frames", input_validator=Params)

    @wf.task()
    def table(input: Params, ctx: Context) -> pd.DataFrame:
        frame = pd.DataFrame({"a": [1, 2, 3], "b": [0.5, 1.5, 2.5]})
        if input.k > 1:
            frame.loc[1, "a"] = 20
            frame["c"] = "new"
        return frame

    start_worker(wf)
    one = wf.run_no_wait({"k": 1})
    two = wf.run_no_wait({"k": 2})
    one.result(timeout=30)
    two.result(timeout=30)
    diff = hatchet.runs.diff(one.workflow_run_id, two.workflow_run_id)
    frame = diff.tasks[0].output
    assert frame is not None and not frame.same
    assert (frame.shape_a, frame.shape_b) == ((3, 2), (3, 3))
    assert frame.columns_added == ["c"]
    assert [(c.row, c.column, c.old, c.new) for c in frame.cells] == [(1, "a", 2, 20)]
    assert "[1, a]: 2 -> 20" in diff.to_text()
    assert 'data-task="table"' in diff._repr_html_()


def test_fork_from_a_durable_task_runs_it_again_from_its_start(
    hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    from hatchnb import DurableContext, EmptyModel

    marks = tmp_path / "marks"
    wf = hatchet.workflow(name="durable_loop")

    @wf.task()
    def prepare(input: EmptyModel, ctx: Context) -> dict[str, int]:
        with marks.open("a") as f:
            f.write("prepare\n")
        return {"n": 2}

    @wf.durable_task(parents=[prepare])
    async def steps(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
        n = ctx.task_output(prepare)["n"]

        def note() -> int:
            with marks.open("a") as f:
                f.write("step\n")
            return int(n) * 10

        return {"v": await ctx.aio_step("step", note)}

    start_worker(wf)
    source = wf.run_no_wait()
    assert source.result(timeout=30)["steps"] == {"v": 20}
    fork = hatchet.runs.fork(source.workflow_run_id, "steps")
    assert fork.result(timeout=30)["steps"] == {"v": 20}
    # the durable step ran again (a fork starts a fresh durable log); prepare did not
    assert marks.read_text().split() == ["prepare", "step", "step"]
    logs = {r["task_name"] for r in hatchet.runs.durable_log(fork.workflow_run_id)}
    assert logs == {"steps"}


def test_diff_of_notebook_tasks_cell_by_cell(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    path = tmp_path / "square.ipynb"
    params = new_code_cell("x = 1")
    params.metadata["tags"] = ["parameters"]
    cells = [params, new_code_cell("print('square', x * x)"), new_code_cell("print('fixed')")]
    nbformat.write(new_notebook(cells=cells), path)
    task = hatchet.notebook_task(path, name="square")
    hatchet.register(task)
    worker_process("--slots", "2")  # papermill's kernel runs in the worker, not in pytest
    one = task.run_no_wait({"x": 2})
    two = task.run_no_wait({"x": 3})
    one.result(timeout=120)
    two.result(timeout=120)
    diff = hatchet.runs.diff(one.workflow_run_id, two.workflow_run_id)
    notebook = diff.tasks[0].notebook
    assert notebook is not None
    changed = {(c.index, c.source_changed, c.outputs_changed) for c in notebook.cells}
    # the injected parameters cell (after the parameters cell) and the printing cell
    assert changed == {(1, True, False), (2, False, True)}
    printed = next(c for c in notebook.cells if c.outputs_changed)
    assert (printed.old_output, printed.new_output) == ("square 4\n", "square 9\n")
    assert "cell 2 (code) changed: outputs" in diff.to_text()
