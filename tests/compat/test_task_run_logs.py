"""hatchet_sdk's ``hatchet.logs.list(task_run_id, limit, since, until)`` (written from its
documented API): one task run's log lines, as ``V1LogLine``s."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel

pytestmark = pytest.mark.integration


def test_a_task_runs_log_lines_by_its_id(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="chatty")

    @wf.task()
    def talk(input: EmptyModel, ctx: Context) -> dict[str, str]:
        ctx.log("one")
        logging.getLogger("my.task").warning("two")
        return {"id": ctx.task_run_external_id}

    @wf.task(parents=[talk])
    def quiet(input: EmptyModel, ctx: Context) -> None:
        ctx.log("not talk's")

    start_worker(wf)
    started = datetime.now(UTC)
    task_id = wf.run()["talk"]["id"]
    lines = hatchet.logs.list(task_id).rows
    assert [line.message for line in lines][-2:] == ["one", "my.task: two"]
    assert [line.level for line in lines][-2:] == ["INFO", "WARN"]
    assert all(line.task_external_id == task_id and line.attempt == 1 for line in lines)
    assert lines[0].task_display_name.startswith("talk-")
    assert all(line.created_at >= started for line in lines)
    assert len(hatchet.logs.list(task_id, limit=1)) == 1
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert asyncio.run(hatchet.logs.aio_list(task_id, since=later)) == []
