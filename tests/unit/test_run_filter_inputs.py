"""Run list filters and run ids, as checked before any query (``hatchnb.features.runs``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from hatchnb import RunStatus, errors
from hatchnb.features.runs import run_filters, run_uuid


def _filters(**given: Any) -> Any:
    args: dict[str, Any] = {
        "since": None,
        "until": None,
        "statuses": None,
        "additional_metadata": None,
        "workflow_names": None,
        "parent_task_run_id": None,
    }
    return run_filters(**{**args, **given})


def test_aware_datetimes_are_kept_as_given() -> None:
    tz = timezone(timedelta(hours=5))
    since, until = datetime(2026, 1, 1, tzinfo=tz), datetime(2026, 1, 2, tzinfo=UTC)
    where = _filters(since=since, until=until)
    assert (where.since, where.until) == (since, until)


def test_no_until_is_no_upper_bound() -> None:
    assert _filters().until is None


def test_workflow_names_are_kept() -> None:
    assert _filters(workflow_names=["etl", "train"]).workflows == ["etl", "train"]


def test_an_empty_workflow_list_is_no_filter() -> None:
    assert _filters(workflow_names=[]).workflows is None


def test_an_empty_workflow_name_is_refused() -> None:
    with pytest.raises(ValueError, match="workflow_names item='': pass a non-empty string"):
        _filters(workflow_names=[""])


def test_an_empty_status_list_is_no_filter() -> None:
    assert _filters(statuses=[]).statuses is None


def test_every_status_name_is_accepted() -> None:
    names = [s.value for s in RunStatus]
    assert _filters(statuses=names).statuses == names


def test_metadata_needs_string_keys() -> None:
    with pytest.raises(errors.InvalidInput, match="pass a dict with string keys"):
        _filters(additional_metadata={1: "x"})


def test_metadata_filter_is_kept() -> None:
    assert _filters(additional_metadata={"team": "ml"}).metadata == {"team": "ml"}


@pytest.mark.parametrize("value", [1, 2**63 - 1])
def test_parent_ids_in_range_are_kept(value: int) -> None:
    assert _filters(parent_task_run_id=value).parent_task_run_ids == [value]


def test_parent_id_must_be_an_int() -> None:
    with pytest.raises(ValueError, match=r"parent_task_run_id='3': pass a whole number"):
        _filters(parent_task_run_id="3")


def test_a_datetime_out_of_range_says_to_pass_an_aware_one() -> None:
    with pytest.raises(ValueError, match="out of range; pass an aware datetime"):
        _filters(since=datetime.min)


def test_run_ids_accept_uuid_objects_and_braces() -> None:
    value = uuid.uuid4()
    assert run_uuid(value) == str(value)
    assert run_uuid("{" + str(value) + "}") == str(value)


def test_a_bad_run_id_is_not_found_and_a_lookup_error() -> None:
    with pytest.raises(LookupError, match="'nope' is not a workflow run id"):
        run_uuid("nope")
