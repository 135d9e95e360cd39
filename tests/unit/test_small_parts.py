"""Small parts with real decisions: the %hatchet argument parser, Prometheus text, the
database URL shown in messages, the connection liveness settings, the SQL file parser."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb.dashboard.pages.runs import parse_metadata
from hatchnb.features.metrics import Histogram, _sample
from hatchnb.notebook.magics_parser import HelpShown, UsageProblem, build_parser
from hatchnb.store import queries
from hatchnb.store.db import liveness_params, redact


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["worker", "start", "--slots", "4", "--label", "gpu=1"],
            {"command": "worker", "action": "start", "slots": 4, "label": ["gpu=1"]},
        ),
        (["runs", "--status", "FAILED", "--limit", "5"], {"status": "FAILED", "limit": 5}),
        (["event", "push", "k", "-p", '{"a":1}'], {"key": "k", "payload": '{"a":1}'}),
        (["run", "wf", "-i", '{"a":1}'], {"workflow": "wf", "input": '{"a":1}', "wait": False}),
        (["run", "wf", "--wait"], {"workflow": "wf", "wait": True}),
        (["worker", "status"], {"action": "status", "slots": 10}),
    ],
)
def test_magic_arguments(argv: list[str], expected: dict[str, Any]) -> None:
    parsed = vars(build_parser().parse_args(argv))
    assert {k: parsed[k] for k in expected} == expected


@pytest.mark.parametrize(
    "argv", [["nonsense"], ["worker", "explode"], ["runs", "--limit", "many"], []]
)
def test_bad_magic_arguments_show_the_usage(argv: list[str]) -> None:
    with pytest.raises(UsageProblem) as raised:
        build_parser().parse_args(argv)
    assert "usage: %hatchet" in str(raised.value)
    assert "{'prog'" not in str(raised.value)


def test_magic_help_is_shown_not_an_error() -> None:
    with pytest.raises(HelpShown):
        build_parser().parse_args(["worker", "--help"])


@pytest.mark.parametrize(
    ("labels", "value", "line"),
    [
        ({}, 3, "m 3"),
        ({"status": "FAILED"}, 2, 'm{status="FAILED"} 2'),
        ({"workflow": 'a"b\\c\nd'}, 1, 'm{workflow="a\\"b\\\\c\\nd"} 1'),
        ({}, 1.5, "m 1.5"),
        ({}, 2.0, "m 2.0"),
    ],
)
def test_prometheus_samples(labels: dict[str, str], value: float, line: str) -> None:
    assert _sample("m", labels, value) == line


def test_histogram_buckets_are_cumulative_and_end_at_inf() -> None:
    hist = Histogram(bounds=(0.1, 1.0), counts=(1, 2, 3), total=6, sum_seconds=4.5)
    assert hist.cumulative() == [("0.1", 1), ("1.0", 3), ("+Inf", 6)]


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u@h/db?password=secret", "postgresql://u@h/db?password=***"),
        ("postgresql://u@h/db", "postgresql://u@h/db"),
    ],
)
def test_urls_in_messages_hide_the_password(dsn: str, shown: str) -> None:
    assert redact(dsn) == shown


def test_keyword_dsns_hide_the_password() -> None:
    shown = redact("host=h password=secret dbname=x")
    assert "secret" not in shown and "password=***" in shown


def test_liveness_follows_the_worker_timeout() -> None:
    params = liveness_params("postgresql://h/db", "-c jit=off", dead_after=6.0)
    assert params["tcp_user_timeout"] == 6000
    assert params["keepalives_idle"] == 2
    assert params["options"].startswith("-c jit=off -c tcp_keepalives_idle=2")


def test_liveness_settings_in_the_url_win() -> None:
    params = liveness_params("postgresql://h/db?connect_timeout=3", "", dead_after=6.0)
    assert "connect_timeout" not in params


def test_named_sql_keeps_its_description_line() -> None:
    parsed = queries.parse(
        "-- name: one\n-- first\nSELECT 1;\n\n-- name: two\n-- second\nSELECT 2;"
    )
    assert parsed == {"one": "-- first\nSELECT 1;", "two": "-- second\nSELECT 2;"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("team=ml", {"team": "ml"}),
        ("team=ml, env=prod", {"team": "ml", "env": "prod"}),
        ("", {}),
    ],
)
def test_dashboard_metadata_filter(text: str, expected: dict[str, str]) -> None:
    assert parse_metadata(text) == expected


def test_dashboard_metadata_filter_refuses_pairs_without_a_value() -> None:
    with pytest.raises(ValueError, match="key=value"):
        parse_metadata("team")
