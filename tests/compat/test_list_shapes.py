"""hatchet_sdk v1's list shapes for workflows, workers, crons, schedules and filters
(written from its documented API): ``.rows``, ``.metadata.id``, and workflows named by
``workflow.id``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, HatchnbError
from hatchnb.expressions import InvalidExpression

pytestmark = pytest.mark.integration


def test_lists_answer_rows_and_metadata_ids(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(name="listed")
    def listed(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(listed, name="list-worker")
    [workflow] = hatchet.workflows.list(workflow_name="listed").rows
    assert workflow.metadata.id == listed.id
    assert hatchet.workflows.list(workflow_name="absent").rows == []
    [worker] = [w for w in hatchet.workers.list().rows if w.name == "list-worker"]
    assert worker.status == "ACTIVE" and worker.metadata.id == worker.id

    cron = hatchet.cron.create(listed.id, "nightly", "0 3 * * *", additional_metadata={"t": "1"})
    assert cron.metadata.id == cron.id and cron.workflow_id == listed.id
    assert [c.metadata.id for c in hatchet.cron.list(workflow_id=listed.id).rows] == [cron.id]
    assert hatchet.cron.list(additional_metadata={"t": "2"}).rows == []
    assert [c.name for c in hatchet.cron.list(cron_name="nightly").rows] == ["nightly"]

    when = datetime.now(UTC) + timedelta(hours=1)
    scheduled = hatchet.scheduled.create(listed.id, when)
    assert [s.metadata.id for s in hatchet.scheduled.list(workflow_id=listed.id).rows] == [
        scheduled.id
    ]

    made = hatchet.filters.create(listed.id, "input.ok == true", "scope-a")
    assert made.metadata.id == made.id
    assert [f.id for f in hatchet.filters.list(workflow_ids=[listed.id]).rows] == [made.id]
    assert hatchet.filters.list(scopes=["scope-b"]).rows == []


def test_unsupported_list_options_are_refused(hatchet: Any) -> None:
    with pytest.raises(NotImplementedError, match="order_by_field"):
        hatchet.cron.list(order_by_field="name")
    with pytest.raises(NotImplementedError, match="statuses="):
        hatchet.scheduled.list(statuses=["PENDING"])


def test_worker_labels_as_hatchet_sdk_lists(hatchet: Any) -> None:
    from hatchnb import WorkerLabel

    worker = hatchet.worker(
        "labelled", labels=[WorkerLabel(key="gpu", value=1), WorkerLabel(key="zone", value="eu")]
    )
    assert worker.labels == {"gpu": 1, "zone": "eu"}
    with pytest.raises(ValueError, match="needs a key"):
        hatchet.worker("keyless", labels=[WorkerLabel(value=1)])
    assert hatchet.worker("defaults", slots=None, durable_slots=None).slots == 100


def test_async_twins_of_the_trigger_clients(hatchet: Any, start_worker: Any) -> None:
    import asyncio

    from hatchnb import BulkPushEventWithMetadata

    @hatchet.task(name="twins", on_events=["twins:go"])
    def twins(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(twins)

    async def use() -> None:
        made = await hatchet.filters.aio_create(twins.id, "true", "s")
        await hatchet.filters.aio_delete(made.id)
        pushed = await hatchet.event.aio_bulk_push(
            [BulkPushEventWithMetadata(key="twins:go", payload={"n": 1})]
        )
        assert (await hatchet.event.aio_get(pushed[0].event_id)).key == "twins:go"
        assert [e.event_id for e in await hatchet.event.aio_list()] == [pushed[0].event_id]
        cron = await hatchet.cron.aio_create(twins, "c", "0 1 * * *")
        assert (await hatchet.cron.aio_get(cron.id)).name == "c"
        await hatchet.cron.aio_delete(cron.id)
        when = datetime.now(UTC) + timedelta(hours=1)
        scheduled = await hatchet.scheduled.aio_create(twins, when)
        assert (await hatchet.scheduled.aio_get(scheduled.id)).id == scheduled.id
        await hatchet.scheduled.aio_delete(scheduled.id)

    asyncio.run(use())
    assert hatchet.filters.list(workflow_ids=[twins.id]).rows == []
    assert hatchet.cron.list().rows == [] and hatchet.scheduled.list().rows == []


def test_event_list_filters(hatchet: Any) -> None:
    since = datetime.now(UTC) - timedelta(seconds=5)
    first = hatchet.event.push("a:one", {}, additional_metadata={"t": "1"}, scope="s1")
    second = hatchet.event.push("a:two", {}, scope="s2")
    listed = hatchet.event.list(since=since).rows
    assert [e.metadata.id for e in listed] == [second.event_id, first.event_id]
    assert [e.key for e in hatchet.event.list(keys=["a:one"]).rows] == ["a:one"]
    assert [e.key for e in hatchet.event.list(scopes=["s2"]).rows] == ["a:two"]
    assert [e.key for e in hatchet.event.list(additional_metadata={"t": "1"}).rows] == ["a:one"]
    assert [e.key for e in hatchet.event.list(event_ids=[second.event_id]).rows] == ["a:two"]
    assert [e.key for e in hatchet.event.list(limit=1, offset=1).rows] == ["a:one"]
    assert hatchet.event.list(until=since).rows == []
    with pytest.raises(NotImplementedError, match="workflow_ids"):
        hatchet.event.list(workflow_ids=["x"])
    with pytest.raises(ValueError, match="'nope' is not an event id"):
        hatchet.event.list(event_ids=["nope"])


def test_getters_by_id(hatchet: Any, start_worker: Any) -> None:
    import asyncio

    @hatchet.task(name="gettable")
    def gettable(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"n": 1}

    start_worker(gettable, name="get-worker")
    assert hatchet.workflows.get(gettable.id).name == "gettable"
    assert hatchet.workflows.get("gettable").metadata.id == gettable.id
    [worker] = [w for w in hatchet.workers.list().rows if w.name == "get-worker"]
    assert hatchet.workers.get(worker.id).name == "get-worker"
    made = hatchet.filters.create(gettable.id, "true", "scope")
    assert hatchet.filters.get(made.id).expression == "true"
    ref = gettable.run_no_wait()
    assert asyncio.run(hatchet.runs.aio_get_result(ref.workflow_run_id)) == {"gettable": {"n": 1}}
    with pytest.raises(ValueError, match="'w-1' is not a worker id: ids are UUIDs"):
        hatchet.workers.get("w-1")
    with pytest.raises(HatchnbError, match="no registered workflow"):
        hatchet.workflows.get("absent")


def test_schedules_are_updated_and_deleted_in_bulk(hatchet: Any) -> None:
    @hatchet.task(name="later")
    def later(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(later)
    soon = datetime.now(UTC) + timedelta(hours=1)
    first = hatchet.scheduled.create(later, soon, additional_metadata={"batch": "a"})
    second = hatchet.scheduled.create(later, soon, additional_metadata={"batch": "b"})
    third = hatchet.scheduled.create(later, soon)
    moved = hatchet.scheduled.update(first.id, soon + timedelta(days=1))
    assert moved.trigger_at == soon + timedelta(days=1)
    [again] = hatchet.scheduled.bulk_update([(second.id, soon + timedelta(days=2))])
    assert again.trigger_at == soon + timedelta(days=2)
    assert hatchet.scheduled.bulk_delete(
        workflow_id=later.id, additional_metadata={"batch": "a"}
    ) == [first.id]
    assert hatchet.scheduled.bulk_delete(scheduled_ids=[second.id, third.id]) == [
        second.id,
        third.id,
    ]
    assert hatchet.scheduled.list(workflow_id=later.id).rows == []
    with pytest.raises(ValueError, match="aware datetime"):
        hatchet.scheduled.update(first.id, datetime.now())
    with pytest.raises(NotImplementedError, match="statuses="):
        hatchet.scheduled.bulk_delete(statuses=["PENDING"])


def test_filters_are_updated(hatchet: Any) -> None:
    import importlib

    path = "hatchnb.clients.rest.models.v1_update_filter_request"  # a run-time alias path
    V1UpdateFilterRequest = importlib.import_module(path).V1UpdateFilterRequest

    @hatchet.task(name="filtered-upd", on_events=["upd:go"])
    def filtered(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(filtered)
    made = hatchet.filters.create(filtered.id, "input.n > 1", "s1", {"a": 1})
    changed = hatchet.filters.update(made.id, V1UpdateFilterRequest(expression="input.n > 5"))
    assert (changed.expression, changed.scope, changed.payload) == ("input.n > 5", "s1", {"a": 1})
    changed = hatchet.filters.update(made.id, {"scope": "s2", "payload": {"b": 2}})
    assert (changed.expression, changed.scope, changed.payload) == ("input.n > 5", "s2", {"b": 2})
    with pytest.raises(InvalidExpression):
        hatchet.filters.update(made.id, {"expression": "(("})


def test_a_pushed_event_has_hatchet_sdks_json_text_fields(hatchet: Any) -> None:
    import json

    pushed = hatchet.event.push("shape:go", {"n": 1}, additional_metadata={"k": "v"})
    assert json.loads(pushed.payload) == {"n": 1}
    assert json.loads(pushed.additional_metadata) == {"k": "v"}
    assert pushed.key == "shape:go" and pushed.run_ids == []
    stored = hatchet.event.get(pushed.event_id)  # the stored event keeps dicts, as V1Event
    assert stored.payload == {"n": 1} and stored.metadata.id == pushed.event_id
