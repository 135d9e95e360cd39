"""The rest of hatchet_sdk's ``Context`` surface (written from its documented API): the
worker's labels, trigger data, the deprecated input accessors, ``done()`` and
``aio_task_output``; ``DurableContext``'s invocation count and labelled sleeps."""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import Context, DurableContext, EmptyModel

pytestmark = pytest.mark.integration


def test_context_reports_labels_trigger_data_input_and_parents(
    hatchet: Any, start_worker: Any
) -> None:
    wf = hatchet.workflow(name="ctx-shapes")

    @wf.task()
    async def first(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    @wf.task(parents=[first])
    async def second(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        await ctx.aio_upsert_worker_labels({"stage": "two"})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            seen = {
                "input": ctx.workflow_input,
                "same": ctx.input == ctx.workflow_input,
                "done": ctx.done(),
                "parent": ctx.aio_task_output(first),
            }
        return {
            **seen,
            "labels": ctx.worker_labels,
            "trigger_data": ctx.trigger_data,
            "warned": sorted({w.category.__name__ for w in caught}),
        }

    start_worker(wf, labels={"zone": "a"})
    result = wf.run({"x": 5})["second"]
    assert result == {
        "input": {"x": 5},
        "same": True,
        "done": False,
        "parent": {"n": 1},
        "labels": {"zone": "a", "stage": "two"},
        "trigger_data": {},
        "warned": ["DeprecationWarning"],
    }


def test_durable_context_counts_invocations_and_labels_its_sleeps(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.durable_task()
    async def napper(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
        await ctx.aio_sleep_for(timedelta(milliseconds=10), label="short nap")
        await ctx.aio_sleep_until(wake_at=ctx.now(), label="no nap")
        return {"invocation": ctx.invocation_count, "waits": ctx.wait_index}

    start_worker(napper)
    ref = napper.run(wait_for_result=False)
    assert ref.result(timeout=30) == {"invocation": 1, "waits": 2}
