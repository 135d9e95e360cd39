"""Durable workflows run by worker subprocesses; side effects are counted in files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchnb import DurableContext, EmptyModel, Hatchet


def _count(path: str, name: str) -> str:
    with Path(path).open("a") as f:
        f.write(name + "\n")
    return name


def declare(hatchet: Hatchet) -> dict[str, Any]:
    @hatchet.durable_task(execution_timeout="60s")
    async def sleeper(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        marks = input.model_extra["marks"]
        first = await ctx.aio_step("first", _count, marks, "first")
        await ctx.aio_sleep_for(float(input.model_extra["seconds"]))
        second = await ctx.aio_step("second", _count, marks, "second")
        return {"steps": [first, second]}

    @hatchet.durable_task(execution_timeout="60s")
    async def approver(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        marks = input.model_extra["marks"]
        await ctx.aio_step("asked", _count, marks, "asked")
        event = await ctx.aio_wait_for_event("approval:granted", "input.ok == true")
        await ctx.aio_step("done", _count, marks, "done")
        return {"by": event["by"]}

    return {"sleeper": sleeper, "approver": approver}
