"""CEL expressions: event filters, concurrency and rate limit keys, conditions."""

from __future__ import annotations

import functools
from typing import Any

import cel

from hatchnb import errors


class InvalidExpression(errors.HatchnbError, ValueError):
    """The CEL expression does not parse."""


_EXAMPLE = "write e.g. input.tenant or additional_metadata.team == 'ml'"


@functools.lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    """Compile once; raise InvalidExpression with the parser's pointer to the problem."""
    if not isinstance(expression, str) or not expression.strip() or "\x00" in expression:
        raise InvalidExpression(f"{expression!r} is not a CEL expression; {_EXAMPLE}")
    try:
        return cel.compile(expression)
    except ValueError as exc:
        raise InvalidExpression(
            f"invalid CEL expression {expression!r}: {exc}\nFix its syntax; {_EXAMPLE}"
        ) from None


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    program = compile_expression(expression)
    try:
        return program.execute(variables)
    except Exception as exc:  # the library raises several types for runtime errors
        raise InvalidExpression(
            f"CEL expression {expression!r} failed ({exc}) with the variables "
            f"{', '.join(sorted(variables))}; it must work for every run: guard optional "
            "fields, e.g. has(input.tenant) ? input.tenant : 'none'"
        ) from None
