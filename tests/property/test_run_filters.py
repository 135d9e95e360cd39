"""Properties of the dashboard's run filters (``hatchet.runs.list/count/status_counts`` and the
runs page's metadata parser): any filter gives the rows a plain Python filter over the same
runs gives, or a ValueError saying what to pass; never another exception."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hatchnb import Context, EmptyModel, TriggerWorkflowOptions
from hatchnb.dashboard.pages.runs import parse_metadata
from hatchnb.records import RunStatus

pytestmark = pytest.mark.integration

SETTINGS = settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NOW = datetime.now(UTC).replace(microsecond=0)
WORKFLOWS = ["etl", "report", "sync"]
STATUSES = [s.value for s in RunStatus]
META_KEYS = ["team", "env", "n"]
META_VALUES = ["ml", "ops", "prod", 1, 2, True]


def _seed(hatchet: Any, db: Any) -> list[dict[str, Any]]:
    """30 runs over three workflows, statuses, metadata and three days; the rows as stored."""
    flows = {}
    for name in WORKFLOWS:
        wf = hatchet.workflow(name=name)

        @wf.task()
        def step(input: EmptyModel, ctx: Context) -> None:
            return None

        flows[name] = wf
    for i in range(30):
        meta = {key: META_VALUES[(i + j) % len(META_VALUES)] for j, key in enumerate(META_KEYS)}
        meta = dict(list(meta.items())[: i % 4])
        ref = flows[WORKFLOWS[i % 3]].run_no_wait(
            options=TriggerWorkflowOptions(additional_metadata=meta)
        )
        db.execute(
            "UPDATE hatchnb.workflow_runs SET status = %s, created_at = %s WHERE id = %s",
            (STATUSES[i % len(STATUSES)], NOW - timedelta(hours=2.5 * i), ref.workflow_run_id),
        )
    return db.execute(  # type: ignore[no-any-return]
        "SELECT id, workflow_name, status, additional_metadata, created_at "
        "FROM hatchnb.workflow_runs"
    ).fetchall()


_seeded: dict[str, list[dict[str, Any]]] = {}


def _rows(dsn: str, hatchet: Any, db: Any) -> list[dict[str, Any]]:
    if dsn not in _seeded:
        _seeded.clear()
        _seeded[dsn] = _seed(hatchet, db)
    return _seeded[dsn]


moments = (
    st.none()
    | st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: d.replace(microsecond=0))
    | st.integers(-80, 10).map(lambda h: NOW + timedelta(hours=h))
    | st.integers(-80, 10).map(lambda h: (NOW + timedelta(hours=h)).replace(tzinfo=None))
)
status_lists = st.none() | st.lists(
    st.sampled_from([*STATUSES, "succeeded", "NOPE", ""]), max_size=4
)
metadata_filters = st.none() | st.dictionaries(
    st.sampled_from([*META_KEYS, "other", ""]),
    st.sampled_from([*META_VALUES, 0, "x", "\x00", 1.0, None]),
    max_size=3,
)
workflow_filters = st.none() | st.lists(st.sampled_from([*WORKFLOWS, "none", "a\x00"]), max_size=3)
numbers = st.none() | st.integers(-5, 40) | st.sampled_from([2**63, -(2**63), 2**63 - 1])


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.astimezone()


def _same(a: Any, b: Any) -> bool:
    """jsonb equality: numbers by value, booleans are not numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return bool(a == b)


def _invalid(statuses: Any, metadata: Any, workflows: Any, limit: Any, offset: Any) -> bool:
    too_big = any(n is not None and n >= 2**63 for n in (limit, offset))
    return (
        any(s not in STATUSES for s in statuses or [])
        or any("\x00" in str(v) for v in (metadata or {}).values())
        or any("\x00" in w for w in workflows or [])
        or (limit is not None and limit < 0)
        or (offset is not None and offset < 0)
        or too_big
    )


def _expected(
    rows: list[dict[str, Any]], since: Any, until: Any, statuses: Any, metadata: Any, flows: Any
) -> list[dict[str, Any]]:
    low = _aware(since) or datetime.now(UTC) - timedelta(days=1)
    high = _aware(until)
    found = [
        r
        for r in rows
        if r["created_at"] >= low
        and (high is None or r["created_at"] <= high)
        and (not statuses or r["status"] in statuses)
        and (not flows or r["workflow_name"] in flows)
        and all(
            k in r["additional_metadata"] and _same(r["additional_metadata"][k], v)
            for k, v in (metadata or {}).items()
        )
    ]
    return sorted(found, key=lambda r: (-r["created_at"].timestamp(), r["id"]))


@SETTINGS
@given(
    since=moments,
    until=moments,
    statuses=status_lists,
    metadata=metadata_filters,
    workflows=workflow_filters,
    limit=numbers,
    offset=numbers,
)
def test_list_and_count_match_a_python_filter(
    dsn: str,
    hatchet: Any,
    db: Any,
    since: Any,
    until: Any,
    statuses: Any,
    metadata: Any,
    workflows: Any,
    limit: Any,
    offset: Any,
) -> None:
    rows = _rows(dsn, hatchet, db)
    filters = {
        "since": since,
        "until": until,
        "additional_metadata": metadata,
        "workflow_names": workflows,
    }
    try:
        listed = hatchet.runs.list(**filters, statuses=statuses, limit=limit, offset=offset)
        total = hatchet.runs.count(**filters, statuses=statuses)
        counts = hatchet.runs.status_counts(**filters)
    except ValueError as exc:
        assert _invalid(statuses, metadata, workflows, limit, offset), exc
        assert "pass" in str(exc) or "use only" in str(exc) or "remove it" in str(exc)
        return
    assert not _invalid(statuses, metadata, workflows, limit, offset)
    expected = _expected(rows, since, until, statuses, metadata, workflows)
    start = offset or 0
    page = expected[start : start + (limit or 100)]
    assert [uuid.UUID(r.workflow_run_id) for r in listed] == [r["id"] for r in page]
    assert total == len(expected)
    everything = _expected(rows, since, until, None, metadata, workflows)
    assert counts == {s: sum(r["status"] == s for r in everything) for s in counts}
    assert sum(counts.values()) == len(everything)


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from(list("ab =,\x00é ")), max_size=20))
def test_metadata_text_of_the_runs_page_parses_or_says_how_to_write_it(text: str) -> None:
    try:
        pairs = parse_metadata(text)
    except ValueError as exc:
        assert "write metadata filters as key=value" in str(exc)
        return
    for key, value in pairs.items():
        assert key and key == key.strip() and value == value.strip()
        assert f"{key}" in text


@SETTINGS
@given(run_id=st.text(max_size=40) | st.uuids().map(str))
def test_run_lookups_by_any_id_are_found_or_not_found(hatchet: Any, run_id: str) -> None:
    from hatchnb import errors

    with pytest.raises(errors.RunNotFound, match="run"):
        hatchet.runs.get(run_id)
