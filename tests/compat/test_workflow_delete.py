"""hatchet_sdk's ``hatchet.workflows.delete(workflow_id)`` / ``aio_delete`` (written from its
documented API): a deleted workflow leaves the lists, its crons, schedules and filters go,
and a trigger of it fails clearly, also from a client that registered it before; runs
already started finish, and registering it again brings it back."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, Hatchet, errors

pytestmark = pytest.mark.integration


def test_a_deleted_workflow_is_gone_until_registered_again(
    hatchet: Any, dsn: str, start_worker: Any
) -> None:
    @hatchet.task(on_events=["doomed:go"], on_crons=["0 3 * * *"])
    def doomed(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    start_worker(doomed)
    assert doomed.run() == {"ran": True}
    queued = doomed.run_no_wait()  # started before the delete: it finishes
    doomed.schedule(datetime.now(UTC) + timedelta(hours=1))
    hatchet.filters.create(workflow_id=doomed.id, expression="true", scope="s")
    other_client = Hatchet(dsn=dsn)  # another process that declared it too

    @other_client.task(name="doomed")
    def doomed_elsewhere(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    assert doomed_elsewhere.run() == {"ran": True}  # it remembers the version it stored
    third_client = Hatchet(dsn=dsn)

    @third_client.task(name="doomed")
    async def doomed_async(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"ran": True}

    assert asyncio.run(doomed_async.aio_run()) == {"ran": True}

    hatchet.workflows.delete(doomed.id)

    assert queued.result(timeout=30) == {"ran": True}
    assert [w.name for w in hatchet.workflows.list().rows] == []
    with pytest.raises(errors.WorkflowNotFound):
        hatchet.workflows.get(doomed.id)
    assert hatchet.cron.list().rows == []
    assert hatchet.scheduled.list().rows == []
    assert hatchet.filters.list().rows == []
    assert hatchet.event.push("doomed:go", {}).run_ids == []
    with pytest.raises(errors.WorkflowNotFound, match="was deleted"):
        doomed_elsewhere.run_no_wait()
    with pytest.raises(errors.WorkflowNotFound, match="was deleted"):
        asyncio.run(doomed_async.aio_run_no_wait())
    with pytest.raises(errors.HatchnbError, match="not registered"):
        hatchet.runs.create("doomed", {})

    assert doomed.run() == {"ran": True}  # the deleting client registers it again
    assert [w.name for w in hatchet.workflows.list().rows] == ["doomed"]
    assert doomed_elsewhere.run() == {"ran": True}


def test_aio_delete_takes_the_workflow_id_or_name(hatchet: Any) -> None:
    wf = hatchet.workflow(name="short-lived")

    @wf.task()
    def step(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(wf)
    asyncio.run(hatchet.workflows.aio_delete(wf.id))
    assert hatchet.workflows.list().rows == []
    with pytest.raises(errors.WorkflowNotFound):
        hatchet.workflows.delete("short-lived")  # already gone
