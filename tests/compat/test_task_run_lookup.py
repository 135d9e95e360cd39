"""hatchet_sdk's ``hatchet.runs.get_task_run(task_run_id)`` (written from its documented
API): one task run by its id, as a ``V1TaskSummary``."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, V1TaskStatus, errors

pytestmark = pytest.mark.integration


def test_a_task_run_is_found_by_the_id_its_context_and_run_give(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="lookup")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"my_id": ctx.task_run_external_id}

    @wf.task(parents=[first])
    def second(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 2}

    start_worker(wf)
    ref = wf.run_no_wait(additional_metadata={"team": "a"})
    outputs = ref.result(timeout=30)
    task_id = outputs["first"]["my_id"]
    found = hatchet.runs.get_task_run(task_id)
    assert found.metadata.id == found.task_external_id == task_id
    assert found.status == V1TaskStatus.COMPLETED
    assert found.output == {"my_id": task_id}
    assert found.workflow_run_external_id == ref.workflow_run_id
    assert found.display_name.startswith("first-")
    assert found.additional_metadata == {"team": "a"}
    by_run = {t.task_name: t.metadata.id for t in hatchet.runs.get(ref.workflow_run_id).tasks}
    again = asyncio.run(hatchet.runs.aio_get_task_run(by_run["second"]))
    assert again.task_name == "second" and again.output == {"n": 2}


def test_a_standalone_tasks_run_id_names_its_task(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task()
    def alone(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ok": True}

    start_worker(alone)
    ref = alone.run_no_wait()
    ref.result(timeout=30)
    assert hatchet.runs.get_task_run(ref.workflow_run_id).output == {"ok": True}


def test_an_unknown_id_says_what_to_pass(hatchet: Any) -> None:
    with pytest.raises(errors.RunNotFound, match=r"ctx\.task_run_external_id"):
        hatchet.runs.get_task_run(str(uuid.uuid4()))
    with pytest.raises(errors.RunNotFound, match="not a workflow run id"):
        hatchet.runs.get_task_run("first")
