"""``hatchnb worker | engine | migrate | dashboard | prune | roles | users | quickstart``,
and (in their own modules) ``api | server | tokens | runs | trigger | events``: thin CLI
wrappers."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NoReturn

from hatchnb import runs_cli, server_cli, tokens_cli, users_cli
from hatchnb.config import parse_duration
from hatchnb.store.migrate import ROLE_NAMES, roles_sql

if TYPE_CHECKING:
    from hatchnb import Hatchet


def _parse_label(text: str) -> tuple[str, str | int]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--label {text!r}: write it as key=value, e.g. gpu=1")
    return key, int(value) if value.lstrip("-").isdigit() else value


def _parse_older_than(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if duration is None:
        raise argparse.ArgumentTypeError("--older-than must be longer than 0, e.g. 7d")
    return duration


def _add_wait_option(parser: argparse.ArgumentParser, default: float = 60.0) -> None:
    parser.add_argument(
        "--wait-for-database",
        type=float,
        default=default,
        metavar="SECONDS",
        help="keep retrying an unreachable database this long before giving up "
        f"(default {'forever' if default == float('inf') else f'{default:g}'})",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hatchnb",
        description="hatchnb: workers, the engine, the dashboard and the embedded PostgreSQL "
        "of a notebook-native workflow engine (hatchet_sdk's API) on PostgreSQL.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    worker = sub.add_parser("worker", help="run a worker for every registered workflow")
    worker.add_argument("--name", default=None, help="worker name (default: host-pid)")
    worker.add_argument("--slots", type=int, default=100, help="tasks run at once")
    worker.add_argument(
        "--label",
        action="append",
        type=_parse_label,
        default=[],
        metavar="KEY=VALUE",
        help="worker label (repeatable)",
    )
    worker.add_argument(
        "--workflow",
        action="append",
        default=None,
        metavar="NAME",
        help="only run these workflows (repeatable; default: all)",
    )
    _add_wait_option(worker, default=float("inf"))  # like Hatchet's workers: never give up
    _add_wait_option(
        sub.add_parser("engine", help="run only the engine duties (timeouts, dead workers)")
    )
    sub.add_parser("migrate", help="create or upgrade the hatchnb schema")
    dashboard = sub.add_parser("dashboard", help="serve the web dashboard (and /metrics)")
    dashboard.add_argument("--port", type=int, default=8765, help="port (0: any free port)")
    dashboard.add_argument(
        "--address",
        default="127.0.0.1",
        help="address to listen on; anything but loopback needs HATCHNB_DASHBOARD_PASSWORD",
    )
    dashboard.add_argument(
        "--prefix",
        default="",
        help="URL path to serve under, e.g. /user/ana/hatchnb behind a proxy (default: /)",
    )
    prune = sub.add_parser("prune", help="delete finished runs older than the retention")
    prune.add_argument(
        "--older-than",
        type=_parse_older_than,
        default=None,
        metavar="DURATION",
        help="e.g. 7d, 12h, 1h30m (default: HATCHNB_RETENTION, 30d)",
    )
    prune.add_argument("--dry-run", action="store_true", help="count, delete nothing")
    prune.add_argument("--batch", type=int, default=None, help="runs per batch (transaction)")
    roles = sub.add_parser("roles", help="the GRANTs locking the schema down (docs/security.md)")
    roles.add_argument("--print", action="store_true", required=True, help="print the SQL")
    for role, default in ROLE_NAMES.items():
        roles.add_argument(f"--{role}", default=default, help=f"{role} role (default {default})")
    users_cli.add_parser(sub)
    tokens_cli.add_parser(sub)
    runs_cli.add_parsers(sub)
    server_cli.add_parsers(sub)
    sub.add_parser("quickstart", help="run a small DAG end to end and print its result")
    embedded = sub.add_parser("embedded", help="the embedded PostgreSQL: status, stop")
    embedded.add_argument("action", choices=["status", "stop"])
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.command == "worker":
        return _worker(args)
    if args.command == "engine":
        return _engine(args)
    if args.command == "dashboard":
        return _dashboard(args)
    if args.command == "prune":
        return _prune(args)
    if args.command == "roles":
        print(roles_sql(**{role: getattr(args, role) for role in ROLE_NAMES}))
        return 0
    if args.command == "users":
        return users_cli.run(args, _connect("users", 0))
    if args.command == "tokens":
        return tokens_cli.run(args, _connect("tokens", 0))
    if args.command in ("runs", "trigger", "events"):
        return runs_cli.run(args, _connect(args.command, 0))
    if args.command in ("api", "server"):
        return server_cli.run(args, _connect(args.command, 60))
    if args.command == "embedded":
        return _embedded(args.action)
    if args.command == "migrate":
        _connect("migrate", 0).close()
        print("hatchnb schema is up to date")
        return 0
    from hatchnb.quickstart import main as quickstart

    return quickstart()


def _embedded(action: str) -> int:
    from hatchnb import embedded

    where = embedded.data_dir()
    if action == "status":
        pid = embedded.server_pid()
        print(f"embedded PostgreSQL in {where}: " + (f"running (pid {pid})" if pid else "stopped"))
        return 0
    stopped = embedded.stop()
    print(f"embedded PostgreSQL in {where}: " + ("stopped" if stopped else "was not running"))
    return 0


def _connect(command: str, wait: float) -> Hatchet:
    """A client; an unreachable database is retried with backoff for ``wait`` seconds, each
    attempt logged. Other problems (a schema newer than this hatchnb, a malformed URL) end
    the command at once with the message, not a traceback."""
    from hatchnb import Hatchet, errors

    deadline = time.monotonic() + wait
    delay = 0.5
    while True:
        try:
            return Hatchet()
        except errors.DatabaseUnavailable as exc:
            left = deadline - time.monotonic()
            if left <= 0:
                _exit(command, f"{exc}; gave up after {wait:g}s (--wait-for-database)")
            pause = min(delay, left)
            logging.getLogger("hatchnb.cli").warning(
                "%s; %s; retrying in %.1fs", exc, _url_for_logs(), pause
            )
            time.sleep(pause)
            delay = min(delay * 2, 10.0)
        except errors.HatchnbError as exc:
            _exit(command, str(exc))


def _url_for_logs() -> str:
    from hatchnb.store.db import redact

    url = os.environ.get("HATCHNB_DATABASE_URL")
    return f"HATCHNB_DATABASE_URL is {redact(url)}" if url else "the embedded server"


def _exit(command: str, message: str) -> NoReturn:
    print(f"hatchnb {command}: {message}", file=sys.stderr)
    sys.exit(1)


def _worker(args: argparse.Namespace) -> int:
    from hatchnb.runtime.worker import Worker

    if args.slots < 1:
        print("hatchnb worker: --slots must be at least 1", file=sys.stderr)
        return 2
    client = _connect("worker", args.wait_for_database)
    client._trigger_registered_versions = True
    name = args.name or f"{os.uname().nodename}-{os.getpid()}"
    worker = Worker(client, name, slots=args.slots, labels=dict(args.label))
    if args.workflow:
        worker.workflow_names = list(args.workflow)
    traces = _traces_from_environment()
    worker.start()
    if traces is not None:
        traces.shutdown()  # export what is still batched
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # task threads that ignored cancellation must not keep the process alive


def _traces_from_environment() -> Any:
    """With an OTLP endpoint in the standard OTEL_* variables, trace the worker's task runs
    (``pip install hatchnb[otel]``); its tracer provider, to shut down at exit."""
    wanted = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if not any(os.environ.get(name) for name in wanted):
        return None
    try:
        from hatchnb.opentelemetry.instrumentor import HatchetInstrumentor
    except ImportError:
        _exit(
            "worker",
            "OTEL_EXPORTER_OTLP_* is set but OpenTelemetry is missing: pip install 'hatchnb[otel]'",
        )
    return HatchetInstrumentor().instrument().get_tracer_provider()


def _engine(args: argparse.Namespace) -> int:
    from hatchnb.runtime.engine import run_engine

    client = _connect("engine", args.wait_for_database)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_engine(client.dsn, client._settings))
    return 0


def _dashboard(args: argparse.Namespace) -> int:
    from hatchnb import errors
    from hatchnb.dashboard.serve import serve_dashboard

    try:
        serve_dashboard(address=args.address, port=args.port, prefix=args.prefix)
    except errors.ConfigurationError as exc:
        print(f"hatchnb dashboard: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


def _prune(args: argparse.Namespace) -> int:
    from hatchnb import Hatchet

    client = Hatchet()
    try:
        report = client.runs.prune(args.older_than, dry_run=args.dry_run, batch_size=args.batch)
    except ValueError as exc:
        print(f"hatchnb prune: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()
    verb = "would delete" if report.dry_run else "deleted"
    print(f"finished before {report.cutoff:%Y-%m-%d %H:%M:%S %Z}: {verb}")
    for table, rows in report.counts.items():
        print(f"  {table:18} {rows:>12,}")
    if report.history_days:
        days = f"{report.history_days[0]} to {report.history_days[-1]}"
        dropped = "would drop" if report.dry_run else "dropped"
        print(f"history partitions {dropped}: {len(report.history_days)} days ({days})")
    if not report.dry_run:
        print(
            f"{report.batches} batches in {report.seconds:.1f} s, "
            f"longest {report.longest_batch * 1000:.0f} ms"
        )
    return 0
