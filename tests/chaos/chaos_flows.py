"""The soak's workflows. Each execution appends a start line and (unless its worker is killed)
an end line to the file named by $CHAOS_MARKS: the soak counts executions from it and
measures how many runs of a concurrency key were executing at once."""

from __future__ import annotations

import os
import random
import time
from datetime import timedelta
from typing import Any

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    DurableContext,
    EmptyModel,
    Hatchet,
)

TENANT_LIMIT = 3
TASKS_PER_DAG = ("root", "fan_a", "fan_b", "nap", "join")
CHILDREN_PER_DAG = 2


def mark(event: str, ctx: Context, key: str = "-") -> None:
    line = f"{event} {ctx.task_run_id} {ctx.attempt_number} {key} {os.getpid()} {time.time()}\n"
    fd = os.open(os.environ["CHAOS_MARKS"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())  # one small O_APPEND write: lines never interleave
    finally:
        os.close(fd)


def work(ctx: Context, extra: dict[str, Any], key: str = "-") -> dict[str, Any]:
    """Sleep a while; a run marked `flaky` raises on its first attempt (a retry)."""
    mark("start", ctx, key)
    time.sleep(float(extra.get("seconds", 0.05)))
    if extra.get("flaky") and ctx.retry_count == 0:
        mark("end", ctx, key)
        raise RuntimeError("flaky on purpose: the first attempt fails")
    mark("end", ctx, key)
    return {"n": extra.get("n"), "pid": os.getpid()}


def declare(hatchet: Hatchet) -> dict[str, Any]:
    @hatchet.task(name="chaos_plain", retries=3, execution_timeout="60s")
    def plain(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return work(ctx, input.model_extra or {})

    @hatchet.task(
        name="chaos_keyed",
        retries=3,
        execution_timeout="60s",
        concurrency=ConcurrencyExpression(
            expression="input.tenant",
            max_runs=TENANT_LIMIT,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )
    def keyed(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        extra = input.model_extra or {}
        return work(ctx, extra, key=extra["tenant"])

    @hatchet.task(name="chaos_child", retries=3, execution_timeout="60s")
    def child(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return work(ctx, input.model_extra or {})

    dag = hatchet.workflow(name="chaos_dag")

    @dag.task(retries=3, execution_timeout="60s")
    def root(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        mark("start", ctx)
        refs = [
            child.run_no_wait({"n": i, "seconds": random.uniform(0.01, 0.1)})
            for i in range(CHILDREN_PER_DAG)
        ]
        time.sleep(0.05)  # room for a kill between the spawn and the report
        mark("end", ctx)
        return {"children": [r.workflow_run_id for r in refs]}

    @dag.task(parents=[root], retries=3, execution_timeout="60s")
    def fan_a(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return work(ctx, {"seconds": 0.1, "flaky": True})

    @dag.task(parents=[root], retries=3, execution_timeout="60s")
    def fan_b(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return work(ctx, {"seconds": 0.2})

    @dag.durable_task(parents=[root], retries=3, execution_timeout="60s")
    async def nap(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
        mark("start", ctx)
        await ctx.aio_sleep_for(timedelta(seconds=1))
        mark("end", ctx)
        return {"slept": True}

    @dag.task(parents=[fan_a, fan_b, nap], retries=3, execution_timeout="60s")
    def join(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        mark("start", ctx)
        parts = [ctx.task_output(fan_a), ctx.task_output(fan_b), ctx.task_output(nap)]
        mark("end", ctx)
        return {"parts": len(parts)}

    return {"plain": plain, "keyed": keyed, "child": child, "dag": dag}
