"""CEL expressions: event filters, concurrency and rate limit keys, conditions."""

from __future__ import annotations

import functools
import re
from typing import Any

import cel

from hatchnb import errors


class InvalidExpression(errors.HatchnbError, ValueError):
    """The CEL expression does not parse."""


_EXAMPLE = "write e.g. input.tenant or additional_metadata.team == 'ml'"

#: the longest expression compiled. The CEL library parses recursively in native code: a
#: chain of thousands of operators overflows the thread's stack and kills the process (issue
#: 19, finding 7), so sizes are checked here, before the library sees the text.
MAX_LENGTH = 10_000
#: the most operators (``+``, ``&&``, ``.``, ``[``, ``?``, ...) in one expression; each one
#: chained to the left nests the parsed tree one level deeper
MAX_OPERATORS = 500
#: the deepest nesting of ``(``, ``[`` and ``{``
MAX_NESTING = 32

_TOKENS = re.compile(
    r"""
    (?P<raw>[rR][bB]?|[bB][rR])(?:'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|"[^"\n]*")
    | [bB]?(?:'''(?:\\.|.)*?'''|\"\"\"(?:\\.|.)*?\"\"\"|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*")
    | (?P<op>&&|\|\||==|!=|<=|>=|[-+*/%!<>?.\[])
    | (?P<open>[(\[{])
    | (?P<close>[)\]}])
    """,
    re.VERBOSE | re.DOTALL,
)


def _shape(expression: str) -> tuple[int, int]:
    """(operators, deepest bracket nesting) outside string literals."""
    operators = depth = deepest = 0
    for token in _TOKENS.finditer(expression):
        if token["op"]:
            operators += 1
        if token["open"] or token["op"] == "[":
            depth += 1
            deepest = max(deepest, depth)
        elif token["close"]:
            depth = max(depth - 1, 0)
    return operators, deepest


def _shown(expression: str) -> str:
    return repr(expression) if len(expression) <= 120 else f"{expression[:100]!r}..."


def check_size(expression: str) -> None:
    """Refuse an expression too large or too deeply nested to compile safely."""
    fix = (
        "shorten it: test membership with a list (input.kind in ['a', 'b']) instead of a "
        "chain of ==/||, or compute the value in code and pass it in the input or metadata"
    )
    if len(expression) > MAX_LENGTH:
        raise InvalidExpression(
            f"the CEL expression {_shown(expression)} is {len(expression):,} characters, over "
            f"the {MAX_LENGTH:,}-character limit; {fix}"
        )
    operators, nesting = _shape(expression)
    if operators > MAX_OPERATORS:
        raise InvalidExpression(
            f"the CEL expression {_shown(expression)} has {operators:,} operators, over the "
            f"limit of {MAX_OPERATORS}; {fix}"
        )
    if nesting > MAX_NESTING:
        raise InvalidExpression(
            f"the CEL expression {_shown(expression)} nests brackets {nesting} deep, over the "
            f"limit of {MAX_NESTING}; flatten it"
        )


def _first_errors(parser_output: str) -> str:
    """The parser's first complaints (it reports every bad character, three lines each)."""
    lines = parser_output.splitlines()
    shown = "\n".join(lines[:6])
    return shown if len(lines) <= 6 else f"{shown}\n... ({len(lines) - 6} more lines)"


@functools.lru_cache(maxsize=1024)
def compile_expression(expression: str) -> Any:
    """Compile once; raise InvalidExpression with the parser's pointer to the problem."""
    if not isinstance(expression, str) or not expression.strip() or "\x00" in expression:
        raise InvalidExpression(f"{expression!r} is not a CEL expression; {_EXAMPLE}")
    check_size(expression)
    try:
        return cel.compile(expression)
    except ValueError as exc:
        raise InvalidExpression(
            f"invalid CEL expression {_shown(expression)}: {_first_errors(str(exc))}\n"
            f"Fix its syntax; {_EXAMPLE}"
        ) from None


def evaluate(expression: str, variables: dict[str, Any]) -> Any:
    program = compile_expression(expression)
    try:
        return program.execute(variables)
    except Exception as exc:  # the library raises several types for runtime errors
        raise InvalidExpression(
            f"CEL expression {_shown(expression)} failed ({exc}) with the variables "
            f"{', '.join(sorted(variables))}; it must work for every run: guard optional "
            "fields, e.g. has(input.tenant) ? input.tenant : 'none'"
        ) from None
