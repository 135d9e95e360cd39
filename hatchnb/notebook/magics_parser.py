"""The argument parser of ``%hatchet``: one sub-command per action, errors as UsageError."""

from __future__ import annotations

import argparse
from typing import Any, NoReturn

HELP = """\
%hatchet connect [DSN]                      use a database (default: env or embedded)
%hatchet worker start|stop|status [--slots N] [--label k=v]   the worker inside this kernel
%hatchet run WF [-i JSON] [--wait]          trigger a workflow declared in this kernel
%hatchet form WF                            a form from WF's input: run now, at a time, or cron
%hatchet runs [--status S] [--workflow W] [--limit N]   recent runs as a table
%hatchet dag WF|RUN_ID                      the DAG of a workflow, or of a run (live)
%hatchet logs RUN_ID [--task T]             log lines of a run
%hatchet cancel RUN_ID | replay RUN_ID      cancel a run, or re-run its failed tasks
%hatchet fork RUN_ID --from TASK [-i JSON] [--wait]   a new run from TASK, reusing upstream
%hatchet diff RUN_A RUN_B                   what changed between two runs, per task
%hatchet cron add NAME WF EXPR [-i JSON] | cron ls [--workflow W] | cron rm ID
%hatchet schedule WF (--at ISO_TIME | --in SECONDS) [-i JSON]
%hatchet event push KEY [-p JSON]
%hatchet dashboard [--port N]               start the web dashboard and print its URL
%%hatchet task NAME [--workflow W] [--parents a,b] [--retries N] [--timeout SECONDS]
    the cell body becomes a task (`input` is the run input as a dict, parents' outputs are
    variables named after them, the last expression is the output), or the cell defines
    def NAME(input, ctx)
%hatchet COMMAND --help                     help for one command"""


class UsageProblem(Exception):
    """Bad arguments; the message says what to fix."""


class HelpShown(Exception):
    """``--help`` printed its text; nothing else to do."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageProblem(f"{message}\n{self.format_usage().strip()}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            raise UsageProblem(message.strip())
        raise HelpShown()


def _sub(subs: Any, name: str, help: str) -> argparse.ArgumentParser:
    # prog named outright: argparse would prefix the parent's whole usage line, and a prog
    # holding '%' is %-formatted again by some Python versions' help formatting
    parser: argparse.ArgumentParser = subs.add_parser(
        name, help=help, description=help, prog=f"%hatchet {name}"
    )
    return parser


def _add_input(parser: argparse.ArgumentParser, flag: str = "-i", long: str = "--input") -> None:
    parser.add_argument(flag, long, default=None, metavar="JSON", help="JSON object")


def _worker(subs: Any) -> None:
    worker = _sub(subs, "worker", "the in-kernel worker (its own thread and event loop)")
    worker.add_argument("action", choices=["start", "stop", "status"])
    worker.add_argument("--slots", type=int, default=10, help="tasks run at once (default 10)")
    worker.add_argument("--name", default=None, help="worker name (default: kernel-PID)")
    worker.add_argument(
        "--label", action="append", default=[], metavar="KEY=VALUE", help="worker label"
    )
    worker.add_argument(
        "--workflow",
        action="append",
        default=None,
        metavar="NAME",
        help="only run these workflows (default: every workflow)",
    )


def _runs(subs: Any) -> None:
    form = _sub(subs, "form", "a form from WF's input schema: run now, run at a time, or cron")
    form.add_argument("workflow", metavar="WF")
    run = _sub(subs, "run", "trigger a workflow declared in this kernel")
    run.add_argument("workflow", metavar="WF")
    _add_input(run)
    run.add_argument("--wait", action="store_true", help="block and return the result")
    runs = _sub(subs, "runs", "recent runs, newest first")
    runs.add_argument("--status", default=None, type=str.upper, help="e.g. FAILED")
    runs.add_argument("--workflow", default=None, metavar="WF")
    runs.add_argument("--limit", type=int, default=20)
    dag = _sub(subs, "dag", "the DAG of a workflow (by name) or of a run (by id, live)")
    dag.add_argument("target", metavar="WF|RUN_ID")
    logs = _sub(subs, "logs", "log lines of a run, oldest first")
    logs.add_argument("run_id", metavar="RUN_ID")
    logs.add_argument("--task", default=None, help="only this task")
    logs.add_argument("--limit", type=int, default=1000)
    for name, text in (("cancel", "cancel a run"), ("replay", "re-run failed tasks of a run")):
        _sub(subs, name, text).add_argument("run_id", metavar="RUN_ID")
    _lineage(subs)


def _lineage(subs: Any) -> None:
    fork = _sub(
        subs,
        "fork",
        "a new run of RUN_ID's workflow from task TASK with the newest registered code; "
        "the outputs upstream of TASK are reused, not recomputed",
    )
    fork.add_argument("run_id", metavar="RUN_ID")
    fork.add_argument("--from", dest="from_task", required=True, metavar="TASK")
    _add_input(fork)
    fork.add_argument("--wait", action="store_true", help="block and return the result")
    diff = _sub(subs, "diff", "what changed from run RUN_A to run RUN_B, per task")
    diff.add_argument("run_a", metavar="RUN_A")
    diff.add_argument("run_b", metavar="RUN_B")


def _triggers(subs: Any) -> None:
    cron = _sub(subs, "cron", "crons: add NAME WF EXPR | ls | rm ID")
    cron_subs = cron.add_subparsers(dest="cron_action", required=True, metavar="add|ls|rm")
    add = _sub(cron_subs, "add", "run WF on a cron expression (UTC)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("workflow", metavar="WF")
    add.add_argument("expression", metavar="EXPR", help="e.g. '0 6 * * *' (quote it)")
    _add_input(add)
    ls = _sub(cron_subs, "ls", "list crons")
    ls.add_argument("--workflow", default=None, metavar="WF")
    _sub(cron_subs, "rm", "delete a cron").add_argument("cron_id", metavar="ID")
    schedule = _sub(subs, "schedule", "run WF once, later")
    schedule.add_argument("workflow", metavar="WF")
    when = schedule.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", default=None, metavar="ISO_TIME", help="e.g. 2030-01-01T06:00Z")
    when.add_argument("--in", dest="delay", type=float, default=None, metavar="SECONDS")
    _add_input(schedule)
    event = _sub(subs, "event", "events: push KEY [-p JSON]")
    event.add_argument("action", choices=["push"])
    event.add_argument("key", metavar="KEY")
    _add_input(event, "-p", "--payload")


def _misc(subs: Any) -> None:
    connect = _sub(subs, "connect", "use this database (default: env or embedded)")
    connect.add_argument("dsn", nargs="?", default=None, metavar="DSN")
    dashboard = _sub(subs, "dashboard", "start the web dashboard and print its URL")
    dashboard.add_argument("--port", type=int, default=0)
    dashboard.add_argument("--address", default="127.0.0.1")
    dashboard.add_argument("--stop", action="store_true", help="stop the running dashboard")
    task = _sub(subs, "task", "%%hatchet task NAME: the cell becomes a task")
    task.add_argument("name", metavar="NAME")
    task.add_argument("--workflow", default=None, metavar="WF", help="add it to workflow WF")
    task.add_argument("--parents", default="", metavar="a,b", help="parent tasks (needs WF)")
    task.add_argument("--retries", type=int, default=0)
    task.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    _sub(subs, "help", "show this help")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%hatchet", add_help=False, usage="%%hatchet COMMAND [ARGS]")
    subs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _misc(subs)
    _worker(subs)
    _runs(subs)
    _triggers(subs)
    return parser
