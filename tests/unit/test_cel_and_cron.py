"""CEL expressions (the language of filters, keys and conditions) and cron maths."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest

from hatchnb import errors, expressions
from hatchnb.expressions import InvalidExpression, compile_expression, evaluate
from hatchnb.features.cron import InvalidCron, next_tick

VARS = {"input": {"tenant": "acme", "n": 3, "tags": ["a", "b"]}, "additional_metadata": {}}


@pytest.mark.parametrize("bad", ["", "   ", "a\x00b", None, 5])
def test_what_is_not_an_expression_is_refused_with_an_example(bad: Any) -> None:
    with pytest.raises(InvalidExpression, match=r"write e\.g\. input\.tenant"):
        compile_expression(bad)


def test_an_expression_is_compiled_once() -> None:
    assert compile_expression("input.n + 1") is compile_expression("input.n + 1")


@pytest.mark.parametrize(
    ("expression", "value"),
    [
        ("input.tenant", "acme"),
        ("input.n * 2 + 1", 7),
        ("input.tenant == 'acme' && input.n > 2", True),
        ("'b' in input.tags", True),
        ("size(input.tags)", 2),
        ("has(input.missing) ? input.missing : 'none'", "none"),
        ("input.tenant.startsWith('ac')", True),
    ],
)
def test_expressions_evaluate_over_the_run(expression: str, value: Any) -> None:
    assert evaluate(expression, VARS) == value


def test_a_runtime_failure_names_the_variables_and_the_guard() -> None:
    with pytest.raises(InvalidExpression) as raised:
        evaluate("input.missing == 1", VARS)
    message = str(raised.value)
    assert "with the variables additional_metadata, input" in message
    assert "has(input.tenant)" in message


def test_invalid_expressions_are_value_errors_of_hatchnb() -> None:
    assert issubclass(InvalidExpression, errors.HatchnbError)
    assert issubclass(InvalidExpression, ValueError)


# ---- size limits (issue 19, finding 7: a 50,000-term expression crashed the process) --------


def test_expressions_up_to_the_limits_compile_and_evaluate() -> None:
    chain = "1" + " + 1" * expressions.MAX_OPERATORS
    assert evaluate(chain, VARS) == expressions.MAX_OPERATORS + 1
    nested = "(" * expressions.MAX_NESTING + "1" + ")" * expressions.MAX_NESTING
    assert evaluate(nested, VARS) == 1


def test_operators_inside_string_literals_do_not_count() -> None:
    dotted = "a." * 2000
    assert evaluate(f"input.tenant + '{dotted}'", VARS) == "acme" + dotted
    assert evaluate(f'r"\\" + """{dotted}"""', VARS) == "\\" + dotted


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("input.tenant == '" + "x" * 10_000 + "'", r"is 10,018 characters, over the 10,000-char"),
        ("1" + " + 1" * 501, r"has 501 operators, over the limit of 500; shorten it"),
        ("input" + ".a" * 600, r"has 600 operators"),
        ("[" * 33 + "]" * 33, r"nests brackets 33 deep, over the limit of 32; flatten it"),
        ("(" * 40 + "1" + ")" * 40, r"nests brackets 40 deep"),
    ],
)
def test_oversized_expressions_are_refused_saying_what_to_fix(
    expression: str, message: str
) -> None:
    with pytest.raises(InvalidExpression, match=message) as refused:
        compile_expression(expression)
    assert len(str(refused.value)) < 600  # the expression is shown shortened


@pytest.mark.parametrize(
    "expression",
    [
        "' + '.join(['1'] * 50_000)",
        "'a' + '.b' * 50_000",
        "'f(' * 50_000 + ')' * 50_000",
        "' || '.join(['input.n == 1'] * 4000)",
    ],
)
def test_a_huge_expression_is_refused_not_a_crash(expression: str) -> None:
    """In a child process, so that a regression (a segfault in the CEL library) cannot take
    pytest down with it."""
    script = (
        "from hatchnb.expressions import InvalidExpression, compile_expression\n"
        "try:\n"
        f"    compile_expression({expression})\n"
        "except InvalidExpression as exc:\n"
        "    print('refused:', str(exc)[:200])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.startswith("refused: the CEL expression")


# ---- cron ---------------------------------------------------------------------------------

JAN = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
JUL = datetime(2026, 7, 15, 10, 30, tzinfo=UTC)


def test_the_next_tick_is_strictly_after() -> None:
    on_tick = datetime(2026, 1, 15, 11, 0, tzinfo=UTC)
    assert next_tick("0 * * * *", "UTC", on_tick) == datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def test_every_minute() -> None:
    assert next_tick("* * * * *", "UTC", JAN) == datetime(2026, 1, 15, 10, 31, tzinfo=UTC)


@pytest.mark.parametrize(("after", "hour_utc"), [(JAN, 2), (JUL, 1)])
def test_a_time_zone_follows_summer_time(after: datetime, hour_utc: int) -> None:
    tick = next_tick("0 3 * * *", "Europe/Paris", after)
    assert (tick.day, tick.hour, tick.tzinfo) == (16, hour_utc, UTC)


def test_a_naive_after_is_accepted_as_local_time() -> None:
    tick = next_tick("0 0 1 1 *", "UTC", datetime(2026, 6, 1))
    assert tick == datetime(2027, 1, 1, tzinfo=UTC)


def test_day_of_week() -> None:
    # 2026-01-15 is a Thursday; the next Monday 09:00 is the 19th
    assert next_tick("0 9 * * 1", "UTC", JAN) == datetime(2026, 1, 19, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("tz", ["Mars/Olympus", "", "../etc"])
def test_an_unknown_time_zone_says_how_to_name_one(tz: str) -> None:
    with pytest.raises(InvalidCron, match="use an IANA name like 'Europe/Paris'"):
        next_tick("* * * * *", tz, JAN)


@pytest.mark.parametrize("expression", ["60 * * * *", "* * *", "daily", "", 5])
def test_a_malformed_cron_says_how_to_write_one(expression: Any) -> None:
    with pytest.raises(InvalidCron, match="'minute hour day-of-month month day-of-week'"):
        next_tick(expression, "UTC", JAN)


def test_a_cron_that_never_fires_names_the_fields_to_check() -> None:
    with pytest.raises(InvalidCron, match="never fires"):
        next_tick("0 0 30 2 *", "UTC", JAN)
