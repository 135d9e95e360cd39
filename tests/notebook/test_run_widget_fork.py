"""The run widget's "Fork from here", lineage and "What changed" (real database and worker;
the buttons are clicked as the front end would)."""

from __future__ import annotations

from typing import Any

from hatchnb import Context
from hatchnb.widgets.run_widget import RunWidget
from tests.conftest import wait_until


def test_fork_from_the_widget_shows_the_new_run_lineage_and_diff(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="widgetloop")
    factor = {"k": 2}

    @wf.task()
    def base(input: Any, ctx: Context) -> dict[str, int]:
        return {"n": 5}

    @wf.task(parents=[base])
    def scaled(input: Any, ctx: Context) -> dict[str, int]:
        return {"n": ctx.task_output(base)["n"] * factor["k"]}

    start_worker(wf)
    ref = wf.run_no_wait()
    ref.result(timeout=30)
    widget = RunWidget(hatchet, ref.workflow_run_id)
    assert widget.fork_choice.options == ("base", "scaled")
    assert widget.diff_button.layout.display == "none"  # not a fork

    factor["k"] = 3  # the in-process worker runs the live function
    widget.fork_choice.value = "scaled"
    widget.fork_button.click()
    fork = widget.forked
    assert fork is not None and fork.box in widget.fork_area.children
    assert f"run {fork.run_id}" in widget.message.value
    assert f"forks: <code>{fork.run_id}</code> (at scaled)" in widget.lineage.value
    wait_until(lambda: fork.poll() is False, message="the fork to finish")
    assert f"forked from <code>{ref.workflow_run_id}</code> at <b>scaled</b>" in (
        fork.lineage.value
    )
    assert "base <small>(reused)</small>" in fork.tasks.value
    assert fork.diff_button.layout.display == "flex"
    fork.diff_button.click()
    assert 'data-task="scaled"' in fork.diff_view.value
    assert "$.n: 10 -&gt; 15" in fork.diff_view.value


def test_a_refused_fork_says_why_in_the_widget(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="widgetfail")

    @wf.task()
    def boom(input: Any, ctx: Context) -> None:
        raise RuntimeError("no")

    @wf.task(parents=[boom])
    def after(input: Any, ctx: Context) -> None:
        return None

    start_worker(wf)
    ref = wf.run_no_wait()
    wait_until(lambda: hatchet.runs.get_status(ref.workflow_run_id) == "FAILED")
    widget = RunWidget(hatchet, ref.workflow_run_id)
    widget.fork_choice.value = "after"
    assert widget.fork() is None
    assert "cannot fork" in widget.message.value and "fork from 'boom'" in widget.message.value
