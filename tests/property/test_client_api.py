"""The public client API under malformed arguments (issue 19): whatever ids, names, numbers
and payloads a caller passes to ``hatchet.event / runs / filters / rate_limits / cron /
scheduled / workflows / workers`` (and concurrency, alerts, metrics reads), the call either
works or raises a hatchnb error naming
what to fix. Never a psycopg error, a UnicodeEncodeError or another raw exception, and the
client keeps working afterwards."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatchnb import Context, EmptyModel, errors

pytestmark = pytest.mark.integration

#: text with what PostgreSQL cannot take: NUL, lone surrogates, megabytes
awkward_text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(blacklist_categories=()), max_size=20),  # surrogates included
    st.sampled_from(
        ["", "\x00", "a\x00b", "\ud800", "x\udfff", "nope", "x" * 600, "k" * 1_000_001]
    ),
)
ids = st.one_of(
    awkward_text,
    st.uuids().map(str),
    st.integers(),
    st.none(),
    st.just(uuid.UUID(int=0)),
    st.sampled_from(["0" * 32, "{00000000-0000-0000-0000-000000000000}", "1" * 40]),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([-1, 0, 1, 3, 4, 99, 2**31, 2**63, -(2**63) - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    awkward_text,
)
moments = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(),
    st.just(datetime.now(UTC) + timedelta(hours=1)),
    awkward_text,
    st.integers(),
    st.none(),
)
payloads = st.one_of(
    st.dictionaries(awkward_text, awkward_text, max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
    awkward_text,
    st.integers(),
    st.none(),
)
name_lists = st.one_of(st.lists(awkward_text, max_size=3), awkward_text, st.none())

Call = Callable[[Any, st.DataObject], Any]


def _events(h: Any, d: st.DataObject) -> dict[str, Callable[[], Any]]:
    return {
        "event.get": lambda: h.event.get(d.draw(ids)),
        "event.aio_get": lambda: asyncio.run(h.event.aio_get(d.draw(ids))),
        "event.list": lambda: h.event.list(
            offset=d.draw(numbers),
            limit=d.draw(numbers),
            keys=d.draw(name_lists),
            since=d.draw(moments),
            scopes=d.draw(name_lists),
        ),
        "event.list(event_ids)": lambda: h.event.list(event_ids=[d.draw(ids)]),
        "event.push": lambda: h.event.push(
            d.draw(awkward_text),
            d.draw(payloads),
            additional_metadata=d.draw(payloads),
            priority=d.draw(numbers),
            scope=d.draw(st.none() | awkward_text),
        ),
    }


def _runs(h: Any, d: st.DataObject) -> dict[str, Callable[[], Any]]:
    return {
        "runs.get": lambda: h.runs.get(d.draw(ids)),
        "runs.aio_get_result": lambda: asyncio.run(h.runs.aio_get_result(d.draw(ids))),
        "runs.list": lambda: h.runs.list(
            limit=d.draw(numbers),
            offset=d.draw(numbers),
            workflow_names=d.draw(name_lists),
            statuses=d.draw(name_lists),
            since=d.draw(moments),
        ),
        "runs.count": lambda: h.runs.count(cap=d.draw(numbers), until=d.draw(moments)),
        "runs.status_counts": lambda: h.runs.status_counts(cap=d.draw(numbers)),
        "runs.cancel": lambda: h.runs.cancel(d.draw(ids)),
        "runs.replay": lambda: h.runs.replay(d.draw(ids), failed_only=d.draw(st.booleans())),
        "runs.reset_durable_task": lambda: h.runs.reset_durable_task(
            d.draw(ids),
            d.draw(numbers),
            d.draw(numbers),
            task_name=d.draw(st.none() | awkward_text),
        ),
        "runs.logs": lambda: h.runs.logs(d.draw(ids), limit=d.draw(numbers)),
        "runs.logs_after": lambda: h.runs.logs_after(d.draw(ids), d.draw(numbers)),
        "runs.get_notebook": lambda: h.runs.get_notebook(d.draw(ids), d.draw(awkward_text)),
        "runs.notebooks": lambda: h.runs.notebooks(d.draw(ids)),
        "runs.create": lambda: h.runs.create(
            d.draw(awkward_text | st.just("api")), d.draw(payloads), priority=d.draw(numbers)
        ),
        "runs.fork": lambda: h.runs.fork(d.draw(ids), d.draw(awkward_text), d.draw(payloads)),
        "runs.forks": lambda: h.runs.forks(d.draw(ids)),
        "runs.diff": lambda: h.runs.diff(d.draw(ids), d.draw(ids)),
    }


def _triggers(h: Any, d: st.DataObject) -> dict[str, Callable[[], Any]]:
    return {
        "filters.get": lambda: h.filters.get(d.draw(ids)),
        "filters.delete": lambda: h.filters.delete(d.draw(ids)),
        "filters.create": lambda: h.filters.create(
            d.draw(awkward_text | st.just("api")), d.draw(awkward_text), d.draw(awkward_text)
        ),
        "filters.list": lambda: h.filters.list(
            limit=d.draw(numbers), offset=d.draw(numbers), scopes=d.draw(name_lists)
        ),
        "rate_limits.put": lambda: h.rate_limits.put(
            d.draw(awkward_text), d.draw(numbers), d.draw(st.sampled_from(["SECOND", "EON"]))
        ),
        "cron.create": lambda: h.cron.create(
            d.draw(awkward_text | st.just("api")),
            d.draw(awkward_text),
            d.draw(awkward_text | st.just("0 3 * * *")),
            d.draw(payloads),
            priority=d.draw(numbers),
        ),
        "cron.get": lambda: h.cron.get(d.draw(ids)),
        "cron.pause": lambda: h.cron.pause(d.draw(ids)),
        "cron.unpause": lambda: h.cron.unpause(d.draw(ids)),
        "cron.delete": lambda: h.cron.delete(d.draw(ids)),
        "cron.list": lambda: h.cron.list(offset=d.draw(numbers), limit=d.draw(numbers)),
        "cron.backfill": lambda: h.cron.backfill(
            d.draw(ids | st.just(h.cron.list(cron_name="every-minute").rows[0].id)),
            d.draw(moments | st.just(datetime.now(UTC) - timedelta(minutes=3))),
            d.draw(moments | st.just(datetime.now(UTC))),
        ),
        "scheduled.create": lambda: h.scheduled.create(
            d.draw(awkward_text | st.just("api")),
            d.draw(moments),
            d.draw(payloads),
            priority=d.draw(numbers),
        ),
        "scheduled.get": lambda: h.scheduled.get(d.draw(ids)),
        "scheduled.update": lambda: h.scheduled.update(d.draw(ids), d.draw(moments)),
        "scheduled.delete": lambda: h.scheduled.delete(d.draw(ids)),
        "scheduled.trigger_now": lambda: h.scheduled.trigger_now(d.draw(ids)),
    }


def _registry(h: Any, d: st.DataObject) -> dict[str, Callable[[], Any]]:
    return {
        "workflows.get": lambda: h.workflows.get(d.draw(ids)),
        "workflows.list": lambda: h.workflows.list(limit=d.draw(numbers)),
        "workflows.versions": lambda: h.workflows.versions(d.draw(awkward_text)),
        "workflows.get_version": lambda: h.workflows.get_version(d.draw(numbers)),
        "workflows.pause": lambda: h.workflows.pause(
            d.draw(ids | st.just("api")),
            d.draw(st.timedeltas() | numbers),
            d.draw(st.sampled_from(["DROP", "QUEUE", "x"])),
        ),
        "workflows.unpause": lambda: h.workflows.unpause(d.draw(ids | st.just("api"))),
        "workers.get": lambda: h.workers.get(d.draw(ids)),
        "workers.pause": lambda: h.workers.pause(d.draw(ids)),
        "workers.list": lambda: h.workers.list(d.draw(numbers)),
        "concurrency.list": lambda: h.concurrency.list(d.draw(st.none() | awkward_text)),
        "alerts.deliveries": lambda: h.alerts.deliveries(d.draw(numbers)),
        "metrics.throughput": lambda: h.metrics.throughput(
            d.draw(st.timedeltas() | numbers), d.draw(st.timedeltas() | numbers)
        ),
    }


CALLS = (_events, _runs, _triggers, _registry)


@pytest.fixture
def api_hatchet(hatchet: Any) -> Any:
    """A client with one registered workflow, ``api``, that listens to events and has a
    cron, ``every-minute``."""
    wf = hatchet.workflow(name="api", on_events=["api:go"])

    @wf.task()
    def step(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(wf)
    hatchet.cron.create(wf, "every-minute", "* * * * *")
    return hatchet


@settings(
    max_examples=500,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_the_client_api_answers_or_raises_a_hatchnb_error(
    api_hatchet: Any, data: st.DataObject
) -> None:
    group = data.draw(st.sampled_from(CALLS))
    calls = group(api_hatchet, data)
    name = data.draw(st.sampled_from(sorted(calls)), label="call")
    try:
        calls[name]()
    except errors.HatchnbError as exc:
        assert str(exc), f"{name}: a hatchnb error without a message"
        assert len(str(exc)) < 2_000, f"{name}: the message repeats the input"
    except Exception as exc:  # what the property forbids: any other exception
        pytest.fail(f"{name} raised {type(exc).__module__}.{type(exc).__name__}: {exc!r:.300}")
    assert api_hatchet.workflows.get("api").name == "api"  # the client still works
