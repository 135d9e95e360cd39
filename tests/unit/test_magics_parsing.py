"""The ``%hatchet`` argument parser: each sub-command's arguments and its errors."""

from __future__ import annotations

from typing import Any

import pytest

from hatchnb.notebook.magics_parser import HELP, HelpShown, UsageProblem, build_parser


def _parse(*argv: str) -> dict[str, Any]:
    return vars(build_parser().parse_args(list(argv)))


def test_cron_add_takes_name_workflow_and_expression() -> None:
    parsed = _parse("cron", "add", "nightly", "etl", "0 3 * * *", "-i", "{}")
    assert (parsed["cron_action"], parsed["name"], parsed["workflow"]) == ("add", "nightly", "etl")
    assert (parsed["expression"], parsed["input"]) == ("0 3 * * *", "{}")


def test_cron_ls_filters_by_workflow() -> None:
    assert _parse("cron", "ls", "--workflow", "etl")["workflow"] == "etl"


def test_cron_rm_takes_an_id() -> None:
    assert _parse("cron", "rm", "abc")["cron_id"] == "abc"


def test_cron_needs_an_action() -> None:
    with pytest.raises(UsageProblem, match=r"required: add\|ls\|rm"):
        _parse("cron")


def test_schedule_in_seconds() -> None:
    parsed = _parse("schedule", "etl", "--in", "2.5")
    assert (parsed["delay"], parsed["at"]) == (2.5, None)


def test_schedule_needs_at_or_in() -> None:
    with pytest.raises(UsageProblem, match="one of the arguments --at --in is required"):
        _parse("schedule", "etl")


def test_schedule_takes_at_or_in_not_both() -> None:
    with pytest.raises(UsageProblem, match="not allowed with argument"):
        _parse("schedule", "etl", "--at", "2030-01-01T00:00Z", "--in", "5")


def test_event_push_only() -> None:
    with pytest.raises(UsageProblem, match="invalid choice: 'pop'"):
        _parse("event", "pop", "k")


def test_runs_status_is_uppercased() -> None:
    assert _parse("runs", "--status", "failed")["status"] == "FAILED"


def test_runs_defaults() -> None:
    parsed = _parse("runs")
    assert (parsed["status"], parsed["workflow"], parsed["limit"]) == (None, None, 20)


def test_logs_defaults_and_task() -> None:
    parsed = _parse("logs", "RID", "--task", "load")
    assert (parsed["run_id"], parsed["task"], parsed["limit"]) == ("RID", "load", 1000)


@pytest.mark.parametrize("command", ["cancel", "replay"])
def test_cancel_and_replay_take_a_run_id(command: str) -> None:
    assert _parse(command, "RID") == {"command": command, "run_id": "RID"}


def test_cancel_needs_a_run_id() -> None:
    with pytest.raises(UsageProblem, match="the following arguments are required: RUN_ID"):
        _parse("cancel")


def test_connect_without_a_dsn_uses_the_default() -> None:
    assert _parse("connect")["dsn"] is None


def test_dashboard_defaults_to_loopback_and_any_port() -> None:
    parsed = _parse("dashboard")
    assert (parsed["address"], parsed["port"], parsed["stop"]) == ("127.0.0.1", 0, False)


def test_cell_task_options() -> None:
    parsed = _parse(
        "task",
        "clean",
        "--workflow",
        "etl",
        "--parents",
        "a,b",
        "--retries",
        "2",
        "--timeout",
        "30",
    )
    assert (parsed["name"], parsed["workflow"], parsed["parents"]) == ("clean", "etl", "a,b")
    assert (parsed["retries"], parsed["timeout"]) == (2, 30.0)


def test_worker_workflows_accumulate() -> None:
    parsed = _parse("worker", "start", "--workflow", "a", "--workflow", "b")
    assert parsed["workflow"] == ["a", "b"] and parsed["name"] is None


def test_dag_takes_a_workflow_or_a_run() -> None:
    assert _parse("dag", "etl")["target"] == "etl"


def test_help_of_a_sub_command_is_shown() -> None:
    with pytest.raises(HelpShown):
        _parse("cron", "add", "--help")


def test_the_overview_names_every_command() -> None:
    for command in [
        "connect",
        "worker",
        "runs",
        "dag",
        "logs",
        "cancel",
        "cron",
        "schedule",
        "event",
        "dashboard",
        "task",
    ]:
        assert f"%hatchet {command}" in HELP or f"%%hatchet {command}" in HELP, command


@pytest.mark.parametrize(
    ("argv", "usage"),
    [
        (["nope"], "usage: %hatchet COMMAND [ARGS]"),
        (["run"], "usage: %hatchet run [-h]"),
        (["worker", "start", "--slots", "x"], "usage: %hatchet worker [-h]"),
    ],
)
def test_usage_lines_name_the_magic_and_its_command(argv: list[str], usage: str) -> None:
    with pytest.raises(UsageProblem) as problem:
        build_parser().parse_args(argv)
    text = str(problem.value)
    assert usage in text and "{'prog'" not in text and "COMMAND [ARGS] run" not in text
