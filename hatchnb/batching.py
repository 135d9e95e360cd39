"""Batch tasks (hatchet_sdk's ``batch_task``): the queued runs of one task are handed to one
call of its function as ``{BatchMemberId: input}``, and the function returns
``{BatchMemberId: output}`` (or, with ``broadcast_output``, one output for every member).
A batch is flushed when ``batch_max_size`` members wait, their inputs reach 4 MB (Hatchet's
message limit; a batch carries at most that) or the oldest has waited
``batch_max_interval``; ``batch_group_key`` (CEL over input and metadata) splits members
into groups, of which at most ``batch_group_max_runs`` batches run at once.

The declaration and its stored spec live here; the engine side is
``hatchnb.claim_task_batches`` (migration 0018) and ``runtime/batches.py``."""

from __future__ import annotations

import dataclasses
import typing
from datetime import timedelta
from typing import Any, NewType

from pydantic import BaseModel

from hatchnb import errors, expressions, limits

#: the key of one member in a batch task's input and output dicts: its task run external id
BatchMemberId = NewType("BatchMemberId", str)

#: Hatchet's engine defaults when the declaration leaves them out
DEFAULT_INTERVAL = timedelta(seconds=1)
DEFAULT_GROUP_MAX_RUNS = 100
#: a batch carries at most this much input (JSON text), Hatchet's 4 MB message limit: a
#: group whose waiting inputs reach it is flushed at once
MAX_BATCH_BYTES = 4 * 1024 * 1024


class BatchTaskConfig(BaseModel):
    """How a batch task's members are grouped and flushed (hatchet_sdk's model)."""

    batch_max_size: int
    batch_max_interval: timedelta | None = None
    batch_group_key: str | None = None
    batch_group_max_runs: int | None = None
    broadcast_output: bool = False


def declare(
    batch_max_size: Any,
    batch_max_interval: Any,
    batch_group_key: Any,
    batch_group_max_runs: Any,
    broadcast_output: bool,
) -> BatchTaskConfig:
    """Check a ``batch_task`` declaration; Hatchet's errors (ValueError) for bad numbers."""
    if isinstance(batch_max_size, bool) or not isinstance(batch_max_size, int):
        raise ValueError(f"batch_max_size={batch_max_size!r}: use a positive whole number")
    if batch_max_size <= 0:
        raise ValueError("batch_max_size must be a positive integer")
    if batch_max_interval is not None:
        if not isinstance(batch_max_interval, timedelta):
            raise ValueError(
                f"batch_max_interval={batch_max_interval!r}: use a timedelta, "
                "e.g. timedelta(milliseconds=200)"
            )
        if batch_max_interval.total_seconds() <= 0:
            raise ValueError("batch_max_interval must be positive when provided")
    if batch_group_max_runs is not None and (
        isinstance(batch_group_max_runs, bool)
        or not isinstance(batch_group_max_runs, int)
        or batch_group_max_runs <= 0
    ):
        raise ValueError("batch_group_max_runs must be a positive integer when provided")
    if batch_group_key is not None:
        if not isinstance(batch_group_key, str) or not batch_group_key.strip():
            raise ValueError(
                f"batch_group_key={batch_group_key!r}: use a CEL expression, e.g. 'input.group'"
            )
        expressions.compile_expression(batch_group_key)
    return BatchTaskConfig(
        batch_max_size=batch_max_size,
        batch_max_interval=batch_max_interval,
        batch_group_key=batch_group_key,
        batch_group_max_runs=batch_group_max_runs,
        broadcast_output=bool(broadcast_output),
    )


def refuse_routing(rate_limits: Any, desired_worker_labels: Any) -> None:
    """The batch claim does not apply rate limits or worker labels: say so rather than
    ignore them."""
    if rate_limits:
        raise errors.InvalidWorkflow(
            "batch_task(rate_limits=...) is not supported by hatchnb: batches are claimed "
            "without rate limits; drop rate_limits or use a plain task"
        )
    if desired_worker_labels:
        raise errors.InvalidWorkflow(
            "batch_task(desired_worker_labels=...) is not supported by hatchnb: batches go to "
            "any worker running the task; drop desired_worker_labels or use a plain task"
        )


def spec(config: BatchTaskConfig) -> dict[str, Any]:
    """What ``claim_task_batches`` reads from the stored version."""
    interval = config.batch_max_interval or DEFAULT_INTERVAL
    return {
        "max_size": config.batch_max_size,
        "max_interval_ms": max(1, round(interval.total_seconds() * 1000)),
        "max_runs": config.batch_group_max_runs or DEFAULT_GROUP_MAX_RUNS,
        "max_bytes": MAX_BATCH_BYTES,
        "group_key": config.batch_group_key,
        "broadcast_output": config.broadcast_output,
    }


class GroupKeyError(errors.NonRetryableException):
    """A member's batch_group_key could not give its group: that member's task run fails
    (without retries), as in Hatchet; the trigger itself succeeds."""


def group_key(expression: str, input: Any, metadata: dict[str, Any]) -> str:
    """A member's group: the string its batch_group_key gives on its input and metadata."""
    variables = {"input": input, "additional_metadata": metadata}
    failed = f"failed to parse batch group key expression {limits.shown(expression)}"
    try:
        value = expressions.evaluate(expression, variables)
    except expressions.InvalidExpression as exc:
        raise GroupKeyError(f"{failed}: {exc}") from None
    if not isinstance(value, str):
        raise GroupKeyError(
            f"{failed}: it gave {limits.shown(value)} on this run's input, not a string; "
            "send a string there, or convert it in the expression (string(input.group))"
        )
    try:
        size = limits.utf8_size(value, "the batch group key", expressions.InvalidExpression)
    except expressions.InvalidExpression as exc:
        raise GroupKeyError(f"{failed}: {exc}") from None
    if size > limits.MAX_NAME_BYTES:
        raise GroupKeyError(
            f"{failed}: the key is {size:,} bytes, over the {limits.MAX_NAME_BYTES:,}-byte "
            "limit; group on an id or a short field"
        )
    return value


def group_key_or_none(expression: str, input: Any, metadata: dict[str, Any]) -> str | None:
    """``group_key``, or None when it fails: the member is then stored without a group and
    the worker that claims it fails it with ``group_key``'s error."""
    try:
        return group_key(expression, input, metadata)
    except GroupKeyError:
        return None


def group_key_failure(config: BatchTaskConfig, input: Any, metadata: dict[str, Any]) -> str:
    """Why a member that reached a worker without a group has none."""
    expression = config.batch_group_key or ""
    try:
        group_key(expression, input, metadata)
    except GroupKeyError as exc:
        return str(exc)
    return (
        f"failed to parse batch group key expression {limits.shown(expression)} when the "
        "run was triggered"
    )


def member_output_type(annotation: Any, config: BatchTaskConfig) -> Any:
    """The type of one member's output: ``R`` of a ``dict[BatchMemberId, R]`` return
    annotation (the annotation itself when the output is broadcast)."""
    if config.broadcast_output:
        return annotation
    if typing.get_origin(annotation) is dict:
        args = typing.get_args(annotation)
        if len(args) == 2:
            return args[1]
    return None


@dataclasses.dataclass(frozen=True)
class MemberOutcome:
    """What one member of a finished batch reports: its output, or why it failed."""

    output: Any = None
    error: str | None = None


def split_outputs(
    returned: Any, members: list[str], config: BatchTaskConfig, task_name: str
) -> dict[str, MemberOutcome]:
    """Each member's outcome from what the function returned. A member missing from the
    returned dict fails alone; a result that is not a dict, or that names unknown members,
    fails them all (the function is wrong for every one of them)."""
    if config.broadcast_output:
        return {member: MemberOutcome(output=returned) for member in members}
    if not isinstance(returned, dict):
        raise ValueError(
            f"batch task {task_name!r} returned {type(returned).__name__}; it must return a "
            "dict mapping each BatchMemberId it received to that member's output (or declare "
            "broadcast_output=True to give every member the same output)"
        )
    unknown = sorted(str(k) for k in returned if k not in members)
    if unknown:
        raise ValueError(
            f"batch task {task_name!r} returned outputs for ids that are not in its batch: "
            f"{', '.join(unknown[:5])}; use the keys of the dict it received"
        )
    return {
        member: MemberOutcome(output=returned[member])
        if member in returned
        else MemberOutcome(
            error=f"batch task {task_name!r} returned no output for member {member}; "
            "return an entry for every BatchMemberId it received"
        )
        for member in members
    }
