"""%hatchet fork and %hatchet diff: the notebook loop (run, edit a cell, fork from that
task, see what changed) in IPython against a real database and the in-kernel worker."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

from tests.notebook.test_magics import cell, ip, magic

__all__ = ["ip"]  # the fixture, shared with test_magics


def test_fork_from_an_edited_cell_then_diff(ip: Any) -> None:
    ip.run_cell("calls = []")
    cell(ip, "task extract --workflow nbloop", "calls.append('extract')\n{'rows': [1, 2, 3]}")
    cell(ip, "task total --workflow nbloop --parents extract", "{'sum': sum(extract['rows'])}")
    cell(ip, "task report --workflow nbloop --parents total", "{'text': f\"{total['sum']}\"}")
    magic(ip, "worker start")
    try:
        first = magic(ip, "run nbloop")
        assert first.result(timeout=30)["report"] == {"text": "6"}
        # edit the middle cell, then fork from it
        edited = "{'sum': 10 * len(extract['rows'])}"
        cell(ip, "task total --workflow nbloop --parents extract", edited)
        with capture_output() as cap:
            fork = magic(ip, f"fork {first.workflow_run_id} --from total")
        assert f"forked from {first.workflow_run_id} at total (reused: extract)" in cap.stdout
        assert fork.result(timeout=30)["report"] == {"text": "30"}
        assert ip.user_ns["calls"] == ["extract"]  # not executed again
        assert magic(ip, f"fork {first.workflow_run_id} --from report --wait")["report"] == {
            "text": "6"
        }

        diff = magic(ip, f"diff {first.workflow_run_id} {fork.workflow_run_id}")
        by_task = {t.task_name: t for t in diff.tasks}
        assert (by_task["extract"].code_changed, by_task["total"].code_changed) == (False, True)
        assert by_task["report"].code_changed is False  # only the edited cell changed
        with capture_output() as cap:
            ip.run_cell(f"%hatchet diff {first.workflow_run_id} {fork.workflow_run_id}")
        assert "* total: code changed, SUCCEEDED" in cap.stdout
        assert "~ $.sum: 6 -> 30" in cap.stdout
        html = diff._repr_html_()
        assert 'data-task="total"' in html and "code changed" in html
    finally:
        magic(ip, "worker stop")


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ("fork 00000000-0000-0000-0000-000000000000 --from x", "no workflow run has the id"),
        ("fork nope --from x", "is not a workflow run id"),
        ("diff nope 00000000-0000-0000-0000-000000000000", "is not a workflow run id"),
    ],
)
def test_fork_and_diff_errors_are_one_line(ip: Any, line: str, said: str) -> None:
    with capture_output() as cap:
        result = ip.run_cell(f"%hatchet {line}")
    assert not result.success
    assert said in cap.stderr + cap.stdout
    assert "Traceback" not in cap.stderr + cap.stdout


def test_fork_needs_from(ip: Any) -> None:
    ip.user_ns["hatchet"] = None
    with pytest.raises(UsageError, match="the following arguments are required: --from"):
        magic(ip, "fork 00000000-0000-0000-0000-000000000000")


def test_fork_from_an_unknown_task_lists_the_tasks(ip: Any) -> None:
    cell(ip, "task only --workflow single", "{'v': 1}")
    magic(ip, "worker start")
    try:
        ref = magic(ip, "run single")
        ref.result(timeout=30)
        with pytest.raises(UsageError, match="use one of: only"):
            magic(ip, f"fork {ref.workflow_run_id} --from nothing")
    finally:
        magic(ip, "worker stop")
