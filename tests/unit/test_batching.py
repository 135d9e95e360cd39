"""Batch task declarations and the splitting of a batch's outputs, without a database."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import Context, errors
from hatchnb.batching import (
    BatchMemberId,
    BatchTaskConfig,
    GroupKeyError,
    group_key,
    group_key_failure,
    member_output_type,
    split_outputs,
)
from hatchnb.expressions import InvalidExpression
from hatchnb.types import ClientConfig
from hatchnb.workflow import Workflow


class Out(BaseModel):
    value: int


class _NoClient:
    """Declarations never touch the client."""

    config = ClientConfig()
    _declared: dict[str, Any] = {}


def _wf() -> Workflow[Any]:
    return Workflow(_NoClient(), "wf")  # type: ignore[arg-type]


def _fn(tasks: dict[BatchMemberId, Any], ctx: Context) -> dict[BatchMemberId, Out]:
    return {k: Out(value=1) for k in tasks}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_max_size": 0}, "batch_max_size must be a positive integer"),
        (
            {"batch_max_size": 2, "batch_max_interval": timedelta(0)},
            "batch_max_interval must be positive when provided",
        ),
        (
            {"batch_max_size": 2, "batch_group_max_runs": 0},
            "batch_group_max_runs must be a positive integer when provided",
        ),
        ({"batch_max_size": "3"}, "use a positive whole number"),
        ({"batch_max_size": 2, "batch_max_interval": 5}, "use a timedelta"),
    ],
)
def test_bad_batch_numbers_raise_hatchets_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _wf().batch_task(**options)


def test_a_group_key_must_be_valid_cel() -> None:
    with pytest.raises(InvalidExpression):
        _wf().batch_task(batch_max_size=2, batch_group_key="input.(")


def test_rate_limits_and_labels_are_refused_not_ignored() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="rate_limits"):
        _wf().batch_task(batch_max_size=2, rate_limits=[object()])
    with pytest.raises(errors.InvalidWorkflow, match="desired_worker_labels"):
        _wf().batch_task(batch_max_size=2, desired_worker_labels={"gpu": 1})


def test_spec_carries_hatchets_engine_defaults() -> None:
    wf = _wf()
    task = wf.batch_task(batch_max_size=5)(_fn)
    assert task.spec(False)["batch"] == {
        "max_size": 5,
        "max_interval_ms": 1000,
        "max_runs": 100,
        "max_bytes": 4 * 1024 * 1024,
        "group_key": None,
        "broadcast_output": False,
    }
    plain = wf.task(name="plain")(lambda i, c: None)
    assert "batch" not in plain.spec(False)  # other tasks' specs (and hashes) unchanged


def test_group_keys_are_evaluated_per_trigger() -> None:
    wf = _wf()
    wf.batch_task(batch_max_size=2, batch_group_key="input.tenant")(_fn)
    fc = wf.flow_control()
    assert not fc.empty
    routing = fc.evaluate({"tenant": "acme"}, {}, limits=None)  # type: ignore[arg-type]
    assert routing["tasks"]["_fn"]["batch_key"] == "acme"
    # a key that cannot be computed: null, so the run starts and that task run fails
    routing = fc.evaluate({"tenant": 7}, {}, limits=None)  # type: ignore[arg-type]
    assert routing["tasks"]["_fn"]["batch_key"] is None


@pytest.mark.parametrize(
    ("input", "reason"),
    [
        ({"tenant": 7}, "gave 7 on this run's input, not a string"),
        ({}, "failed"),
        ({"tenant": "x" * 600}, "over the 500-byte limit"),
    ],
)
def test_group_key_failures_say_why(input: dict[str, Any], reason: str) -> None:
    with pytest.raises(GroupKeyError, match="failed to parse batch group key expression") as err:
        group_key("input.tenant", input, {})
    assert reason in str(err.value)
    config = BatchTaskConfig(batch_max_size=2, batch_group_key="input.tenant")
    assert reason in group_key_failure(config, input, {})


def test_each_member_output_is_shaped_by_the_dict_value_type() -> None:
    task = _wf().batch_task(batch_max_size=2)(_fn)
    assert task.shape_output({"value": 3}) == Out(value=3)
    config = BatchTaskConfig(batch_max_size=1, broadcast_output=True)
    assert member_output_type(Out, config) is Out
    assert member_output_type(dict[str, Out], BatchTaskConfig(batch_max_size=1)) is Out


def test_split_outputs_fails_only_missing_members() -> None:
    config = BatchTaskConfig(batch_max_size=3)
    outcomes = split_outputs({"a": 1, "c": 3}, ["a", "b", "c"], config, "t")
    assert outcomes["a"].output == 1 and outcomes["c"].output == 3
    assert outcomes["b"].error is not None and "no output for member b" in outcomes["b"].error


def test_split_outputs_refuses_non_dicts_and_strangers() -> None:
    config = BatchTaskConfig(batch_max_size=2)
    with pytest.raises(ValueError, match="must return a dict"):
        split_outputs([1, 2], ["a", "b"], config, "t")
    with pytest.raises(ValueError, match="not in its batch: z"):
        split_outputs({"a": 1, "z": 2}, ["a", "b"], config, "t")


def test_broadcast_gives_everyone_the_value() -> None:
    config = BatchTaskConfig(batch_max_size=2, broadcast_output=True)
    outcomes = split_outputs({"sum": 3}, ["a", "b"], config, "t")
    assert [o.output for o in outcomes.values()] == [{"sum": 3}, {"sum": 3}]


def test_hatchet_sdks_import_paths_work() -> None:
    types = importlib.import_module("hatchnb.runnables.types")
    assert types.BatchMemberId is BatchMemberId
    assert types.BatchTaskConfig is BatchTaskConfig
