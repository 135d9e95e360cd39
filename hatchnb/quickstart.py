"""``hatchnb quickstart``: a three-task DAG run end to end by an in-process worker."""

from __future__ import annotations

import time

from hatchnb import Context, EmptyModel, Hatchet


def main() -> int:
    hatchet = Hatchet()
    wf = hatchet.workflow(name="quickstart")

    @wf.task()
    def extract(input: EmptyModel, ctx: Context) -> dict[str, list[int]]:
        ctx.log("extracting three numbers")
        return {"numbers": [1, 2, 3]}

    @wf.task(parents=[extract])
    def double(input: EmptyModel, ctx: Context) -> dict[str, list[int]]:
        return {"numbers": [n * 2 for n in ctx.task_output(extract)["numbers"]]}

    @wf.task(parents=[extract, double])
    def total(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"sum": sum(ctx.task_output(double)["numbers"]) + len(ctx.task_output(extract))}

    worker = hatchet.worker("quickstart-worker", slots=4, workflows=[wf]).start_background()
    started = time.perf_counter()
    result = wf.run()
    elapsed = time.perf_counter() - started
    print(f"quickstart DAG finished in {elapsed * 1000:.0f} ms: {result}")
    worker.stop()
    hatchet.close()
    return 0 if result["total"] == {"sum": 13} else 1
