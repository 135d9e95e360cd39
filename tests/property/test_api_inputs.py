"""Properties of the API's inputs: whatever a caller passes is either accepted and works, or
refused with hatchnb's own error (a ValueError subclass saying what to fix), never a raw
psycopg/internal exception and never a half-stored run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    TriggerWorkflowOptions,
    errors,
)
from hatchnb.features.cron import next_tick

pytestmark = pytest.mark.integration

DB_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
#: what a refusal may be: hatchnb's errors, and pydantic's for typed option fields
REFUSALS = (errors.HatchnbError, pydantic.ValidationError)

text = st.text(st.characters(codec="utf-8"), max_size=30)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | text
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(text, json_values, max_size=5)


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _same_json(a: Any, b: Any) -> bool:
    """Equal as JSON: numbers are numbers (jsonb gives 1e+16 back as the int 10**16), bools
    are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def _rows(db: Any) -> tuple[int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM hatchnb.workflow_runs) AS runs, "
        "(SELECT count(*) FROM hatchnb.task_runs) AS tasks"
    ).fetchone()
    return row["runs"], row["tasks"]


def _noop(input: Any, ctx: Context) -> None:
    return None


@DB_SETTINGS
@given(workflow=text, task=text)
def test_workflow_and_task_names(hatchet: Any, db: Any, workflow: str, task: str) -> None:
    before = _rows(db)
    try:
        wf = hatchet.workflow(name=workflow)
        wf.task(name=task)(_noop)
        ref = wf.run_no_wait()
    except REFUSALS:
        assert _rows(db) == before
        assert not workflow or "\x00" in workflow + task
        return
    run = hatchet.runs.get(ref.workflow_run_id)
    expected = task or "_noop"  # an empty name means "the function's name"
    assert (run.workflow_name, [t.task_name for t in run.tasks]) == (workflow, [expected])


@DB_SETTINGS
@given(metadata=st.dictionaries(text, json_values, max_size=4), priority=st.integers(-2, 6))
def test_metadata_and_priority(hatchet: Any, db: Any, metadata: Any, priority: int) -> None:
    wf = hatchet.workflow(name="meta")
    wf.task()(_noop)
    before = _rows(db)
    try:
        options = TriggerWorkflowOptions(additional_metadata=metadata, priority=priority)
        ref = wf.run_no_wait(options=options)
    except REFUSALS:
        assert _rows(db) == before
        assert _has_nul(metadata) or not 1 <= priority <= 3
        return
    run = hatchet.runs.get(ref.workflow_run_id)
    assert _same_json(run.additional_metadata, metadata) and run.priority == priority


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=json_objects)
def test_inputs_round_trip_through_a_run(
    hatchet: Any, db: Any, start_worker: Any, payload: dict[str, Any]
) -> None:
    echo = _echo_task(hatchet, start_worker)
    before = _rows(db)
    try:
        result = echo.run(payload)
    except REFUSALS:
        assert _has_nul(payload)
        assert _rows(db) == before
        return
    assert _same_json(result, payload)


_echoes: dict[int, Any] = {}


def _echo_task(hatchet: Any, start_worker: Any) -> Any:
    """One echo task and worker per test (the fixtures live as long as the test)."""
    if id(hatchet) not in _echoes:

        @hatchet.task(name="echo", input_validator=dict)
        def echo(input: dict[str, Any], ctx: Context) -> dict[str, Any]:
            return input

        start_worker(echo, slots=4)
        _echoes.clear()
        _echoes[id(hatchet)] = echo
    return _echoes[id(hatchet)]


cel_atoms = st.sampled_from(
    [
        "input",
        "additional_metadata",
        ".",
        "a",
        "b",
        "tenant",
        "(",
        ")",
        "[",
        "]",
        "'x'",
        '"',
        " ",
        "+",
        "-",
        "*",
        "/",
        "%",
        "==",
        "!",
        "&&",
        "||",
        "?",
        ":",
        "1",
        "0",
        "2.5",
        "true",
        "null",
        "has(",
        "size(",
        "string(",
        "\\",
        "\x00",
        "{",
        "}",
        ",",
    ]
)
cel_expressions = st.lists(cel_atoms, max_size=10).map("".join) | text


@DB_SETTINGS
@given(expression=cel_expressions)
def test_concurrency_key_expressions(hatchet: Any, db: Any, expression: str) -> None:
    before = _rows(db)
    try:
        key = ConcurrencyExpression(
            expression=expression,
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        )
    except pydantic.ValidationError as exc:
        assert "CEL expression" in str(exc)
        return
    wf = hatchet.workflow(name="keyed", concurrency=key)
    wf.task()(_noop)
    try:
        ref = wf.run_no_wait({"a": 1, "b": "x", "tenant": "t1"})
    except errors.HatchnbError as exc:
        assert "CEL expression" in str(exc) or "key expression" in str(exc)
        assert _rows(db) == before
        return
    assert hatchet.runs.get(ref.workflow_run_id).status in ("QUEUED", "BLOCKED")


cron_fields = st.sampled_from(
    [
        "*",
        "*/5",
        "0",
        "1",
        "7",
        "12",
        "23",
        "29",
        "30",
        "31",
        "59",
        "60",
        "2",
        "1-5",
        "5-1",
        "MON",
        "jan",
        "L",
        "?",
        "#",
        "1,2",
        "-1",
        "x",
        "@hourly",
        "@daily",
        "@yearly",
        "\x00",
    ]
)
cron_strings = st.lists(cron_fields, min_size=0, max_size=7).map(" ".join) | text


@settings(max_examples=300, deadline=None)
@given(expression=cron_strings, zone=st.sampled_from(["UTC", "Europe/Paris", "Nowhere/x", ""]))
def test_cron_expressions_tick_in_the_future_or_are_refused(expression: str, zone: str) -> None:
    now = datetime.now(UTC)
    try:
        tick = next_tick(expression, zone, now)
    except errors.HatchnbError as exc:
        assert isinstance(exc, ValueError)
        assert "cron expression" in str(exc) or "time zone" in str(exc)
        return
    assert tick > now and tick.tzinfo is not None


@DB_SETTINGS
@given(expression=cron_strings, name=text)
def test_cron_creation_is_stored_working_or_refused(
    hatchet: Any, db: Any, expression: str, name: str
) -> None:
    registered = hatchet.workflow(name="some-workflow")
    registered.task()(_noop)
    hatchet.register(registered)
    before = db.execute("SELECT count(*) AS n FROM hatchnb.crons").fetchone()["n"]
    try:
        cron = hatchet.cron.create("some-workflow", name, expression)
    except REFUSALS as exc:
        assert isinstance(exc, ValueError)
        after = db.execute("SELECT count(*) AS n FROM hatchnb.crons").fetchone()["n"]
        assert after == before
        return
    assert cron.next_fire_at > datetime.now(UTC) and cron.expression == expression
