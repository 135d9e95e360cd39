"""Debounced triggers (``debounce=``, which DBOS has and Hatchet lacks): triggers of a
workflow whose key (a CEL expression over the input and metadata) is the same within
``window`` of each other start one run, with the last trigger's input, ``window`` after the
last trigger. The run's id is the same for every trigger of the burst."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from hatchnb import errors, expressions
from hatchnb.idempotency import key_of


class DebounceConfig(BaseModel):
    """Triggers with the same key less than ``window`` apart start one run."""

    key_expression: str
    window: timedelta


@dataclasses.dataclass(frozen=True)
class Debounce:
    key_expression: str
    window: timedelta

    @classmethod
    def declared(cls, config: Any) -> Debounce | None:
        if config is None:
            return None
        if not isinstance(config, DebounceConfig):
            raise TypeError(
                "debounce= takes DebounceConfig(key_expression=..., window=timedelta(...))"
            )
        if config.window <= timedelta(0):
            raise errors.InvalidWorkflow(
                f"debounce: the window must be positive, not {config.window}"
            )
        expressions.compile_expression(config.key_expression)
        return cls(config.key_expression, config.window)

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Debounce | None:
        """A stored version's debounce (events, crons and schedules start runs from it)."""
        found = (spec or {}).get("debounce")
        if not found:
            return None
        return cls(found["key_expression"], timedelta(seconds=found["window_seconds"]))

    def spec(self) -> dict[str, Any]:
        return {
            "key_expression": self.key_expression,
            "window_seconds": self.window.total_seconds(),
        }

    def key(self, input: Any, additional_metadata: dict[str, Any]) -> str:
        return key_of(self.key_expression, input, additional_metadata, "debounce")
