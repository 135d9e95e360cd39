"""Workflows whose code exists only on the test (client) side; workers get it pickled."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from hatchnb import Context, EmptyModel, Hatchet


def declare(hatchet: Hatchet) -> dict[str, Any]:
    @hatchet.task(execution_timeout="60s")
    def where(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"pid": os.getpid(), "worker": ctx.worker.id()}

    @hatchet.task(execution_timeout="60s")
    def slow(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        marks = Path(input.model_extra["marks"])
        with marks.open("a") as f:
            f.write(f"start {os.getpid()}\n")
        time.sleep(float(input.model_extra["seconds"]))
        with marks.open("a") as f:
            f.write(f"end {os.getpid()}\n")
        return {"pid": os.getpid()}

    return {"where": where, "slow": slow}
