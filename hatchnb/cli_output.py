"""What the run commands print: rich tables that fit the terminal, or JSON (``--json``)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from hatchnb.records import FINAL, PushedEvent, WorkflowRun

STATUS_STYLE = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "CANCELLED": "yellow",
    "RUNNING": "cyan",
    "QUEUED": "blue",
}


def _console(stderr: bool = False) -> Console:
    return Console(stderr=stderr, highlight=False, soft_wrap=False)


def _json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/{style}]" if style else status


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S") if moment else ""


def _seconds(start: datetime | None, end: datetime | None) -> str:
    return f"{(end - start).total_seconds():.2f}s" if start and end else ""


def run_json(run: WorkflowRun, outputs: dict[str, Any] | None = None) -> dict[str, Any]:
    outputs = outputs or {}
    return {
        "run_id": run.workflow_run_id,
        "workflow_name": run.workflow_name,
        "status": run.status.value,
        "input": run.input,
        "additional_metadata": run.additional_metadata,
        "error": run.error,
        "created_at": run.created_at,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "tasks": [
            {
                "task_name": t.task_name,
                "status": t.status.value,
                "attempt": t.attempt,
                "output": outputs.get(t.task_name),
                "error": t.error,
                "started_at": t.started_at,
                "finished_at": t.finished_at,
            }
            for t in run.tasks
        ],
    }


def runs_table(runs: Iterable[WorkflowRun], *, as_json: bool) -> None:
    runs = list(runs)
    if as_json:
        _json([run_json(r) for r in runs])
        return
    table = Table("run id", "workflow", "status", "created", "took", expand=False)
    for r in runs:
        table.add_row(
            r.workflow_run_id,
            r.workflow_name,
            _status(r.status.value),
            _when(r.created_at),
            _seconds(r.started_at, r.finished_at),
        )
    _console().print(table if runs else "no runs")


def run_detail(run: WorkflowRun, outputs: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        _json(run_json(run, outputs))
        return
    console = _console()
    console.print(
        f"{run.workflow_run_id}  {run.workflow_name}  {_status(run.status.value)}  "
        f"created {_when(run.created_at)}  took {_seconds(run.started_at, run.finished_at)}"
    )
    console.print(_tasks_table(run, outputs))


def _tasks_table(run: WorkflowRun, outputs: dict[str, Any] | None = None) -> Table:
    table = Table("task", "status", "attempt", "took", "output / error", expand=False)
    for t in run.tasks:
        result = t.error if t.error else outputs.get(t.task_name) if outputs else None
        shown = "" if result is None else result if isinstance(result, str) else _short(result)
        table.add_row(
            t.task_name,
            _status(t.status.value),
            str(t.attempt),
            _seconds(t.started_at, t.finished_at),
            shown,
        )
    return table


def _short(value: Any, width: int = 200) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def follow(read: Callable[[], WorkflowRun], interval: float, *, quiet: bool) -> WorkflowRun:
    """Read the run until it is finished, showing its tasks live (on stderr) unless
    ``quiet``; the finished run."""
    run = read()
    if quiet:
        while run.status not in FINAL:
            time.sleep(interval)
            run = read()
        return run
    with Live(_tasks_table(run), console=_console(stderr=True), transient=True) as live:
        while run.status not in FINAL:
            time.sleep(interval)
            run = read()
            live.update(_tasks_table(run))
    return run


def started(run: WorkflowRun, *, as_json: bool) -> None:
    if as_json:
        _json({"run_id": run.workflow_run_id, "status": run.status.value})
    else:
        print(run.workflow_run_id)


def done(verb: str, run_ids: list[str], *, as_json: bool) -> None:
    if as_json:
        _json({verb: run_ids})
    else:
        for run_id in run_ids:
            print(f"{verb} {run_id}")


def log_line(line: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        print(json.dumps(line, default=str))
    else:
        print(f"{_when(line['created_at'])} {line['task_name']} {line['level']}: {line['message']}")


def pushed(event: PushedEvent, *, as_json: bool) -> None:
    if as_json:
        _json(
            {
                "event_id": event.event_id,
                "key": event.key,
                "run_ids": event.run_ids,
            }
        )
    else:
        started_runs = ", ".join(event.run_ids) or "no runs"
        print(f"event {event.event_id} ({event.key}): started {started_runs}")
