"""Idempotent triggers (hatchet_sdk's ``idempotency=``): a CEL expression over a run's input
and metadata gives its key; a second trigger with a key still held starts no run.

A TTL-based key is held for ``ttl`` after its run was triggered; a status-based one while
its run is queued or running (at most ``fallback_ttl``). The keys live in
``hatchnb.idempotency_keys`` and are claimed in the transaction that inserts the runs, so
concurrent triggers from any number of processes start one run per key."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from enum import Enum
from typing import Any

from pydantic import BaseModel

from hatchnb import errors, expressions

#: keys longer than this are refused (they are stored and indexed)
MAX_KEY_LENGTH = 1000


class IdempotencyMethod(Enum):
    TTL = "TTL"
    STATUS = "STATUS"


class TTLBasedIdempotencyConfig(BaseModel):
    """A key is held for ``ttl`` after the run that took it was triggered."""

    key_expression: str
    ttl: timedelta


class StatusBasedIdempotencyConfig(BaseModel):
    """A key is held while the run that took it is queued or running, and at most
    ``fallback_ttl``."""

    key_expression: str
    fallback_ttl: timedelta


IdempotencyConfig = TTLBasedIdempotencyConfig | StatusBasedIdempotencyConfig


@dataclasses.dataclass(frozen=True)
class Idempotency:
    """A workflow's idempotency, as stored in its version's spec."""

    method: IdempotencyMethod
    key_expression: str
    ttl: timedelta

    @classmethod
    def declared(cls, config: Any) -> Idempotency | None:
        """From ``idempotency=``; a clear error for anything else."""
        if config is None:
            return None
        if isinstance(config, TTLBasedIdempotencyConfig):
            method, ttl = IdempotencyMethod.TTL, config.ttl
        elif isinstance(config, StatusBasedIdempotencyConfig):
            method, ttl = IdempotencyMethod.STATUS, config.fallback_ttl
        else:
            raise TypeError(
                "idempotency= takes TTLBasedIdempotencyConfig(key_expression=..., ttl=...) "
                "or StatusBasedIdempotencyConfig(key_expression=..., fallback_ttl=...)"
            )
        if ttl <= timedelta(0):
            raise errors.InvalidWorkflow(f"idempotency: the ttl must be positive, not {ttl}")
        expressions.compile_expression(config.key_expression)
        return cls(method, config.key_expression, ttl)

    @classmethod
    def from_spec(cls, spec: dict[str, Any] | None) -> Idempotency | None:
        found = (spec or {}).get("idempotency")
        if not found:
            return None
        return cls(
            IdempotencyMethod(found["method"]),
            found["key_expression"],
            timedelta(seconds=found["ttl_seconds"]),
        )

    def spec(self) -> dict[str, Any]:
        return {
            "method": self.method.value,
            "key_expression": self.key_expression,
            "ttl_seconds": self.ttl.total_seconds(),
        }

    def key(self, input: Any, additional_metadata: dict[str, Any]) -> str:
        """The key of one run: the expression over ``input`` and ``additional_metadata``."""
        return key_of(self.key_expression, input, additional_metadata, "idempotency")


def key_of(expression: str, input: Any, additional_metadata: dict[str, Any], what: str) -> str:
    """A run's ``what`` key (idempotency, debounce): ``expression`` over its ``input`` and
    ``additional_metadata``, a string or a number as text."""
    variables = {"input": input, "additional_metadata": additional_metadata}
    try:
        value = expressions.evaluate(expression, variables)
    except Exception as exc:
        raise errors.InvalidInput(
            f"the {what} key expression {expression!r} failed on this input: {exc}; make "
            "sure the input has the fields it reads"
        ) from None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise errors.InvalidInput(
            f"the {what} key expression {expression!r} gave {type(value).__name__} "
            f"{value!r}; it must give a string or a number"
        )
    key = str(value)
    if len(key) > MAX_KEY_LENGTH:
        raise errors.InvalidInput(
            f"the {what} key is {len(key)} characters; at most {MAX_KEY_LENGTH}"
        )
    return key
