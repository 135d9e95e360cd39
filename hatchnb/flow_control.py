"""Flow-control declarations (concurrency keys, rate limits, sticky runs, worker affinity),
named as in hatchet_sdk v1, and their evaluation when a run is triggered."""

from __future__ import annotations

import dataclasses
from enum import IntEnum, StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, Field, model_validator

from hatchnb import batching, errors, expressions, limits


class RateLimitLookup(Protocol):
    """What deciding a run's rate limit units needs from the database."""

    def ensure(self, key: str, limit: int, duration: str) -> None: ...

    def limit_of(self, key: str) -> int | None: ...


class ConcurrencyLimitStrategy(StrEnum):
    #: a new run cancels the oldest running ones of its key
    CANCEL_IN_PROGRESS = "CANCEL_IN_PROGRESS"
    #: per-key queues, dequeued fairly across keys
    GROUP_ROUND_ROBIN = "GROUP_ROUND_ROBIN"
    #: a new run is cancelled while its key is full
    CANCEL_NEWEST = "CANCEL_NEWEST"


class ConcurrencyExpression(BaseModel):
    """At most ``max_runs`` runs per value of the CEL ``expression`` (over ``input`` and
    ``additional_metadata``) at a time."""

    expression: str
    max_runs: int = Field(gt=0)
    limit_strategy: ConcurrencyLimitStrategy

    @model_validator(mode="after")
    def _compiles(self) -> ConcurrencyExpression:
        expressions.compile_expression(self.expression)
        return self

    @staticmethod
    def from_int(max_runs: int) -> ConcurrencyExpression:
        """At most ``max_runs`` runs at a time in all (one group), as ``concurrency=n``."""
        return ConcurrencyExpression(
            expression="'constant'",
            max_runs=max_runs,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        )


class StickyStrategy(StrEnum):
    #: prefer the worker that ran the run's first task
    SOFT = "SOFT"
    #: only that worker
    HARD = "HARD"


class RateLimitDuration(StrEnum):
    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


class RateLimit(BaseModel):
    """A task consumes ``units`` of a rate limit key when it starts; over the limit it waits
    for the next window. ``static_key`` limits are set with ``hatchet.rate_limits.put``;
    ``dynamic_key`` (CEL) limits carry their own ``limit`` and ``duration``."""

    static_key: str | None = None
    dynamic_key: str | None = None
    units: str | int = 1
    limit: int | str | None = None
    duration: RateLimitDuration = RateLimitDuration.MINUTE

    @model_validator(mode="after")
    def _consistent(self) -> RateLimit:
        if bool(self.static_key) == bool(self.dynamic_key):
            raise ValueError("a RateLimit needs exactly one of static_key= or dynamic_key=")
        if self.dynamic_key and self.limit is None:
            raise ValueError(
                f"the dynamic rate limit {self.dynamic_key!r} needs limit= (a number or CEL)"
            )
        for text in (self.dynamic_key, self.units, self.limit):
            if isinstance(text, str):
                expressions.compile_expression(text)
        if isinstance(self.units, int) and self.units < 1:
            raise ValueError(f"RateLimit units={self.units}: use a positive number")
        if isinstance(self.units, int) and isinstance(self.limit, int):
            _check_units(self.units, self.limit, self.static_key or self.dynamic_key or "")
        return self


class WorkerLabelComparator(IntEnum):
    EQUAL = 0
    NOT_EQUAL = 1
    GREATER_THAN = 2
    GREATER_THAN_OR_EQUAL = 3
    LESS_THAN = 4
    LESS_THAN_OR_EQUAL = 5


class WorkerLabel(BaseModel):
    """A label of a worker (``hatchet.worker(labels=[WorkerLabel(key=..., value=...)])``)."""

    key: str | None = None
    value: str | int


def worker_labels(labels: dict[str, str | int] | list[WorkerLabel] | None) -> dict[str, str | int]:
    """A worker's labels as hatchnb stores them, from hatchet_sdk's dict or list form."""
    if labels is None:
        return {}
    if isinstance(labels, dict):
        return dict(labels)
    keyless = [label for label in labels if not label.key]
    if keyless:
        raise ValueError(f"labels={keyless!r}: every worker label needs a key")
    return {str(label.key): label.value for label in labels}


class DesiredWorkerLabel(WorkerLabel):
    """A label a task wants on its worker; ``required`` labels are never violated, the others
    add their ``weight`` (default 100) to a worker's score."""

    required: bool = False
    weight: int | None = None
    comparator: WorkerLabelComparator | None = None


def _check_units(units: int, limit: int, key: str) -> None:
    if units > limit:
        raise errors.InvalidWorkflow(
            f"rate limit {key!r}: a task consuming {units} units can never run under a limit "
            f"of {limit}; lower units= or raise the limit"
        )


# ---- normalising declarations -----------------------------------------------------------


def concurrency_list(value: Any) -> list[ConcurrencyExpression]:
    """``concurrency=`` accepts an int (one constant key), one expression or a list."""
    if value is None:
        return []
    if isinstance(value, bool):
        raise TypeError("concurrency= takes a number or ConcurrencyExpression(s), not a bool")
    if isinstance(value, int):
        return [ConcurrencyExpression.from_int(value)]
    items = value if isinstance(value, list | tuple) else [value]
    for item in items:
        if not isinstance(item, ConcurrencyExpression):
            raise TypeError(
                f"concurrency= got {item!r}; use ConcurrencyExpression(expression=..., "
                "max_runs=..., limit_strategy=...) or a number"
            )
    return list(items)


def rate_limit_list(value: Any) -> list[RateLimit]:
    items = list(value or [])
    for item in items:
        if not isinstance(item, RateLimit):
            raise TypeError(f"rate_limits= got {item!r}; use RateLimit(static_key=..., units=...)")
    return items


def desired_labels_spec(value: Any) -> dict[str, dict[str, Any]] | None:
    """``desired_worker_labels`` as a dict {key: DesiredWorkerLabel} or a list of labels with
    ``key`` set; stored as plain JSON for the claim query."""
    if not value:
        return None
    pairs = list(value.items()) if isinstance(value, dict) else [(d.key, d) for d in value]
    spec = {}
    for key, label in pairs:
        if isinstance(label, dict):
            label = DesiredWorkerLabel(**label)
        if not key or not isinstance(label, DesiredWorkerLabel):
            raise TypeError(
                "desired_worker_labels= takes {key: DesiredWorkerLabel(...)} or a list of "
                "DesiredWorkerLabel(key=..., ...)"
            )
        spec[key] = {
            "value": label.value,
            "required": label.required,
            "weight": label.weight,
            "comparator": WorkerLabelComparator(label.comparator or 0).name,
        }
    return spec


def sticky_name(value: Any) -> str | None:
    if value is None:
        return None
    try:
        return StickyStrategy(value).value
    except ValueError:
        raise ValueError(
            f"sticky={value!r}: use StickyStrategy.SOFT or StickyStrategy.HARD"
        ) from None


# ---- evaluation at trigger time ---------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlowControl:
    """The flow control a workflow declares, evaluated for each triggered run."""

    workflow_name: str
    run_concurrency: list[ConcurrencyExpression]
    #: task name -> its own concurrency expressions
    task_concurrency: dict[str, list[ConcurrencyExpression]]
    task_rate_limits: dict[str, list[RateLimit]]
    sticky: str | None = None
    #: batch task name -> its batch_group_key (CEL)
    task_batch_keys: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> FlowControl:
        """Rebuild from a stored workflow version (crons, schedules and events start runs
        from the spec, in any process)."""
        tasks = spec.get("tasks", []) + spec.get("hooks", [])
        return cls(
            workflow_name=spec["name"],
            run_concurrency=[ConcurrencyExpression(**c) for c in spec.get("concurrency", [])],
            task_concurrency={
                t["name"]: [ConcurrencyExpression(**c) for c in t["concurrency"]]
                for t in tasks
                if t.get("concurrency")
            },
            task_rate_limits={
                t["name"]: [RateLimit(**r) for r in t["rate_limits"]]
                for t in tasks
                if t.get("rate_limits")
            },
            sticky=spec.get("sticky"),
            task_batch_keys={
                t["name"]: t["batch"]["group_key"]
                for t in tasks
                if (t.get("batch") or {}).get("group_key")
            },
        )

    @property
    def empty(self) -> bool:
        return not (
            self.run_concurrency
            or self.task_concurrency
            or self.task_rate_limits
            or self.task_batch_keys
        )

    @property
    def is_plain(self) -> bool:
        return self.empty and not self.sticky

    def routing(
        self, input: Any, metadata: dict[str, Any], limits: RateLimitLookup
    ) -> dict[str, Any]:
        """The flow-control fields of one ``insert_runs`` row."""
        routing: dict[str, Any] = {}
        if not self.empty:
            routing["fc"] = self.evaluate(input, metadata, limits)
        if self.sticky:
            routing["sticky"] = self.sticky
        return routing

    def evaluate(
        self, input: Any, metadata: dict[str, Any], limits: RateLimitLookup
    ) -> dict[str, Any]:
        """The ``fc`` element of an ``insert_runs`` row: slots and rate limit units."""
        variables = {"input": input, "additional_metadata": metadata}
        fc: dict[str, Any] = {"tasks": {}}
        if self.run_concurrency:
            fc["run"] = [
                self._slot(c, i, None, variables) for i, c in enumerate(self.run_concurrency)
            ]
        for task, items in self.task_concurrency.items():
            entry = fc["tasks"].setdefault(task, {})
            entry["concurrency"] = [self._slot(c, i, task, variables) for i, c in enumerate(items)]
        for task, declared in self.task_rate_limits.items():
            entry = fc["tasks"].setdefault(task, {})
            entry["rate_limits"] = [_units(r, variables, limits) for r in declared]
        for task, expression in self.task_batch_keys.items():
            entry = fc["tasks"].setdefault(task, {})
            # null when it fails: the run starts, and that task run fails on its worker
            entry["batch_key"] = batching.group_key_or_none(expression, input, metadata)
        return fc

    def _slot(
        self, c: ConcurrencyExpression, index: int, task: str | None, variables: dict[str, Any]
    ) -> dict[str, Any]:
        key = _key_text(expressions.evaluate(c.expression, variables), c.expression)
        scope = f"{self.workflow_name}.{task}" if task else self.workflow_name
        return {
            "slot": f"{scope}#{index}={key}",
            "scope": "task" if task else "run",
            "workflow_name": self.workflow_name,
            "task_name": task,
            "expression": c.expression,
            "key": key,
            "strategy": c.limit_strategy.value,
            "max_runs": c.max_runs,
        }


def _key_text(value: Any, expression: str) -> str:
    if isinstance(value, bool | int | float | str):
        return _short_key(str(value).lower() if isinstance(value, bool) else str(value), expression)
    raise expressions.InvalidExpression(
        f"the key expression {expression!r} gave {value!r}; it must give a string or a number"
    )


def _short_key(key: str, expression: str) -> str:
    """A key is stored and indexed: at most ``limits.MAX_NAME_BYTES``."""
    what = f"the key of {limits.shown(expression)}"
    size = limits.utf8_size(key, what, expressions.InvalidExpression)
    if size > limits.MAX_NAME_BYTES:
        raise expressions.InvalidExpression(
            f"{what} is {size:,} bytes on this input, over the {limits.MAX_NAME_BYTES:,}-byte "
            "limit for keys; key on an id or a short field (e.g. input.tenant_id), not on a "
            "whole document"
        )
    return key


def _number(value: int | str, variables: dict[str, Any], what: str) -> int:
    result = expressions.evaluate(value, variables) if isinstance(value, str) else value
    if (
        isinstance(result, bool)
        or not isinstance(result, int | float)
        or not 1 <= result <= limits.INT_MAX
    ):
        raise expressions.InvalidExpression(
            f"{what} {value!r} gave {limits.shown(result)}; need a number from 1 to "
            f"{limits.INT_MAX:,}"
        )
    return int(result)


def _units(limit: RateLimit, variables: dict[str, Any], limits: RateLimitLookup) -> dict[str, Any]:
    units = _number(limit.units, variables, "rate limit units")
    if limit.dynamic_key:
        key = _key_text(expressions.evaluate(limit.dynamic_key, variables), limit.dynamic_key)
        assert limit.limit is not None
        value = _number(limit.limit, variables, "rate limit limit")
        _check_units(units, value, key)
        limits.ensure(key, value, limit.duration.value)
        return {"key": key, "units": units}
    key = limit.static_key or ""
    known = limits.limit_of(key)
    if known is None:
        raise errors.InvalidWorkflow(
            f"rate limit key {key!r} has no limit yet; call "
            f"hatchet.rate_limits.put({key!r}, limit, RateLimitDuration.SECOND) first"
        )
    _check_units(units, known, key)
    return {"key": key, "units": units}


# ---- state, for the API and the dashboard -----------------------------------------------
