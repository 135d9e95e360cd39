"""``hatchnb quickstart``: a three-task DAG run end to end by an in-process worker."""

from __future__ import annotations

import os
import time

from hatchnb import Context, EmptyModel, Hatchet, embedded


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

    @wf.task(parents=[double])
    def total(input: EmptyModel, ctx: Context) -> dict[str, int]:
        numbers = ctx.task_output(double)["numbers"]
        return {"sum": sum(numbers), "count": len(numbers)}

    worker = hatchet.worker("quickstart-worker", slots=4, workflows=[wf]).start_background()
    started = time.perf_counter()
    result = wf.run()
    elapsed = time.perf_counter() - started
    worker.stop()
    hatchet.close()
    print(f"quickstart DAG (extract -> double -> total) finished in {elapsed * 1000:.0f} ms:")
    for task, output in result.items():
        print(f"  {task}: {output}")
    print(_next_steps())
    return 0 if result["total"] == {"sum": 12, "count": 3} else 1


def _next_steps() -> str:
    steps = [
        "next:",
        "  hatchnb dashboard       # the runs, DAGs and logs in your browser",
        "  %load_ext hatchnb       # in a notebook: %hatchet magics and live run widgets",
    ]
    if not os.environ.get("HATCHNB_DATABASE_URL"):
        steps.append(
            f"the embedded PostgreSQL in {embedded.data_dir()} keeps running for your "
            "notebooks and workers; stop it with: hatchnb embedded stop"
        )
    return "\n".join(steps)
