"""Workflows the dashboard tests run."""

from __future__ import annotations

import os
import time
from typing import Any

from hatchnb import Context, Hatchet


def declare(hatchet: Hatchet) -> dict[str, Any]:
    etl = hatchet.workflow(name="etl")

    @etl.task()
    def extract(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        ctx.log("extracting")
        return {"rows": [1, 2, 3]}

    @etl.task(parents=[extract])
    def transform(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"n": len(ctx.task_output(extract)["rows"])}

    @etl.task(parents=[extract])
    def audit(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"ok": True}

    @etl.task(parents=[transform, audit])
    def load(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"loaded": ctx.task_output(transform)["n"]}

    @hatchet.task(name="boom")
    def boom(input: dict[str, Any], ctx: Context) -> None:
        raise ValueError("boom")

    slow = hatchet.workflow(name="slow", input_validator=dict)

    @slow.task()
    def wait(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        ctx.log("waiting for the test")  # it creates input["flag"] to let the task finish
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not ctx.is_cancelled:
            if os.path.exists(input.get("flag", "")):
                break
            time.sleep(0.05)
        ctx.log("released")
        return {"waited": True}

    @slow.task(parents=[wait])
    def after(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
        return {"after": True}

    return {"etl": etl, "boom": boom, "slow": slow}
