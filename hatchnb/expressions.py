"""CEL expressions (event filters now; concurrency keys and conditions later)."""

from __future__ import annotations

import functools
from typing import Any

import cel

from hatchnb import errors


class InvalidExpression(errors.HatchnbError, ValueError):
    """The CEL expression does not parse."""


@functools.lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    """Compile once; raise InvalidExpression with the parser's pointer to the problem."""
    try:
        return cel.compile(expression)
    except ValueError as exc:
        raise InvalidExpression(f"invalid CEL expression {expression!r}: {exc}") from None


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    program = compile_expression(expression)
    try:
        return program.execute(variables)
    except Exception as exc:  # the library raises several types for runtime errors
        raise InvalidExpression(
            f"CEL expression {expression!r} failed on {sorted(variables)}: {exc}"
        ) from None
