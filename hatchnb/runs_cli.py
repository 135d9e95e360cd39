"""``hatchnb runs list|get|cancel|replay|logs``, ``hatchnb trigger NAME`` and ``hatchnb
events push KEY``: the run commands, through the same feature clients as Python code.
Tables fit the terminal (rich); ``--json`` prints JSON for scripts instead."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from hatchnb import cli_output
from hatchnb.config import parse_duration
from hatchnb.records import FINAL, RunStatus

if TYPE_CHECKING:
    from hatchnb import Hatchet

#: seconds between reads while ``--wait`` or ``--follow`` follows a run
FOLLOW_INTERVAL = 0.3


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    runs = sub.add_parser("runs", help="list, show, cancel and replay runs; read their logs")
    actions = runs.add_subparsers(dest="runs_command", required=True)
    listing = actions.add_parser("list", help="runs, newest first")
    listing.add_argument(
        "--since",
        type=_ago,
        default=None,
        metavar="DURATION",
        help="created within this long, e.g. 1h, 7d (default 1d)",
    )
    listing.add_argument(
        "--status",
        action="append",
        choices=[s.value for s in RunStatus],
        help="only runs with this status (repeatable)",
    )
    listing.add_argument(
        "--workflow",
        action="append",
        metavar="NAME",
        help="only runs of this workflow (repeatable)",
    )
    listing.add_argument("--limit", type=int, default=50)
    get = actions.add_parser("get", help="a run: status, tasks, outputs, errors, timings")
    get.add_argument("run_id")
    cancel = actions.add_parser("cancel", help="cancel runs and their child runs")
    cancel.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    replay = actions.add_parser("replay", help="run finished runs again")
    replay.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    replay.add_argument(
        "--failed-only", action="store_true", help="only the failed tasks and what follows them"
    )
    logs = actions.add_parser("logs", help="a run's log lines")
    logs.add_argument("run_id")
    logs.add_argument("--follow", "-f", action="store_true", help="until the run is finished")
    for parser in (listing, get, cancel, replay, logs):
        _add_json(parser)

    trigger = sub.add_parser("trigger", help="start a run of a registered workflow by name")
    trigger.add_argument("workflow")
    trigger.add_argument(
        "--input",
        type=_json_object,
        default=None,
        metavar="JSON",
        help="the input as a JSON object",
    )
    trigger.add_argument(
        "-i",
        dest="fields",
        action="append",
        type=_pair,
        default=[],
        metavar="KEY=VALUE",
        help="one input field (repeatable; VALUE is JSON, else text)",
    )
    _add_run_options(trigger)
    trigger.add_argument(
        "--wait", action="store_true", help="follow the run to its end; exit 1 unless it succeeded"
    )
    _add_json(trigger)

    events = sub.add_parser("events", help="push events")
    event_actions = events.add_subparsers(dest="events_command", required=True)
    push = event_actions.add_parser("push", help="push one event (starts listening workflows)")
    push.add_argument("key")
    push.add_argument("--payload", type=_json_object, default=None, metavar="JSON")
    push.add_argument("--scope", default=None)
    _add_run_options(push)
    _add_json(push)


def _add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON (for scripts)")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metadata",
        "-m",
        action="append",
        type=_text_pair,
        default=[],
        metavar="KEY=VALUE",
        help="additional metadata (repeatable)",
    )
    parser.add_argument("--priority", type=int, choices=(1, 2, 3), default=None)


def _ago(text: str) -> datetime:
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if duration is None:
        raise argparse.ArgumentTypeError("--since must be longer than 0, e.g. 1h")
    return datetime.now(UTC) - duration


def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): e.g. '{{\"n\": 1}}'") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("pass a JSON object, e.g. '{\"n\": 1}'")
    return value


def _text_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: write it as key=value")
    return key, value


def _pair(text: str) -> tuple[str, Any]:
    """``key=value``; the value is JSON when it parses (``n=3`` is a number), else text."""
    key, value = _text_pair(text)
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def run(args: argparse.Namespace, client: Hatchet) -> int:
    from hatchnb import errors

    command = args.command if args.command != "runs" else f"runs {args.runs_command}"
    try:
        return _dispatch(args, client)
    except (errors.HatchnbError, ValueError) as exc:
        print(f"hatchnb {command}: {exc}", file=sys.stderr)
        return 2


def _dispatch(args: argparse.Namespace, client: Hatchet) -> int:
    if args.command == "trigger":
        return _trigger(args, client)
    if args.command == "events":
        return _push(args, client)
    action = args.runs_command
    if action == "list":
        runs = client.runs.list(
            since=args.since,
            statuses=args.status,
            workflow_names=args.workflow,
            limit=args.limit,
            include_payloads=args.json,
        )
        cli_output.runs_table(runs, as_json=args.json)
    elif action == "get":
        _show_run(client, args.run_id, args.json)
    elif action == "cancel":
        for run_id in args.run_ids:
            client.runs.cancel(run_id)
        cli_output.done("cancelled", args.run_ids, as_json=args.json)
    elif action == "replay":
        for run_id in args.run_ids:
            client.runs.replay(run_id, failed_only=args.failed_only)
        cli_output.done("replayed", args.run_ids, as_json=args.json)
    else:
        _logs(client, args.run_id, args.follow, args.json)
    return 0


def _trigger(args: argparse.Namespace, client: Hatchet) -> int:
    from hatchnb.api import inputs

    payload = {**(args.input or {}), **dict(args.fields)}
    workflow = client.workflows.get(args.workflow)
    version = client.workflows.get_version(workflow.latest_version_id)
    inputs.check_input(workflow.name, version.id, version.spec.get("input_schema"), payload)
    run = client.runs.create(workflow.name, payload, dict(args.metadata), args.priority)
    if not args.wait:
        cli_output.started(run, as_json=args.json)
        return 0
    if not args.json:
        print(f"started {run.workflow_run_id} ({workflow.name})", file=sys.stderr)
    final = cli_output.follow(
        lambda: client.runs.get(run.workflow_run_id, task_events=False),
        FOLLOW_INTERVAL,
        quiet=args.json,
    )
    _show_run(client, run.workflow_run_id, args.json)
    return 0 if final.status == RunStatus.SUCCEEDED else 1


def _show_run(client: Hatchet, run_id: str, as_json: bool) -> None:
    run = client.runs.get(run_id, task_events=False)
    details = client.runs.get_details(run_id)
    outputs = {name: task.output for name, task in details.task_runs.items()}
    cli_output.run_detail(run, outputs, as_json=as_json)


def _logs(client: Hatchet, run_id: str, follow: bool, as_json: bool) -> None:
    after = 0
    while True:
        lines = client.runs.logs_after(run_id, after, 1000)
        for line in lines:
            after = line["id"]
            cli_output.log_line(line, as_json=as_json)
        if not follow or (not lines and client.runs.get_status(run_id) in FINAL):
            return
        if not lines:
            time.sleep(FOLLOW_INTERVAL)


def _push(args: argparse.Namespace, client: Hatchet) -> int:
    event = client.event.push(
        args.key,
        args.payload or {},
        additional_metadata=dict(args.metadata),
        priority=args.priority,
        scope=args.scope,
    )
    cli_output.pushed(event, as_json=args.json)
    return 0
