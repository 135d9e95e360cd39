"""``%hatchet`` / ``%%hatchet``: the notebook front end. Thin: it calls the public client."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import shlex
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from hatchnb import errors
from hatchnb.notebook import cell_tasks, magics_parser

if TYPE_CHECKING:
    import argparse

    from hatchnb.client import Hatchet
    from hatchnb.runtime.worker import Worker
    from hatchnb.workflow import Workflow


def _json(text: str | None, flag: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{flag} is not valid JSON ({exc.msg}); quote it, e.g. {flag} '{{\"n\": 1}}'"
        ) from None


def _labels(items: list[str]) -> dict[str, str | int]:
    labels: dict[str, str | int] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"--label {item!r}: write it as key=value, e.g. --label gpu=1")
        labels[key] = int(value) if value.lstrip("-").isdigit() else value
    return labels


@magics_class
class HatchetMagics(Magics):
    """State of one kernel: its client, its worker and the workflows the magics declared."""

    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self._parser = magics_parser.build_parser()
        self._client: Hatchet | None = None
        self.worker: Worker | None = None
        self.workflows: dict[str, Workflow[Any]] = {}
        self._dashboard: Any = None

    @property
    def _shell(self) -> Any:
        assert self.shell is not None
        return self.shell

    @property
    def _ns(self) -> dict[str, Any]:
        ns: dict[str, Any] = self._shell.user_ns
        return ns

    @line_cell_magic
    def hatchet(self, line: str, cell: str | None = None) -> Any:
        """Workflows from the notebook. ``%hatchet help`` lists the commands."""
        args = self._parse(line)
        if args is None:
            return None
        if args.command == "task":
            return self._task(args, cell)
        if cell is not None:
            raise UsageError(f"%%hatchet {args.command} takes no cell body; use %hatchet")
        handler = getattr(self, f"_cmd_{args.command}")
        try:
            return handler(args)
        except (errors.RunNotFound, errors.InvalidInput) as exc:
            raise UsageError(str(exc)) from None  # one line, not a traceback into hatchnb

    def _parse(self, line: str) -> argparse.Namespace | None:
        try:
            argv = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"cannot split the arguments ({exc}); close the quotes") from None
        if not argv or argv[0] in ("help", "-h", "--help"):
            print(magics_parser.HELP)
            return None
        try:
            return self._parser.parse_args(argv)
        except magics_parser.HelpShown:
            return None
        except magics_parser.UsageProblem as exc:
            raise UsageError(f"{exc}\n(%hatchet help lists the commands)") from None

    # ---- client, workflows ----------------------------------------------------------------

    @property
    def client(self) -> Hatchet:
        """The kernel's client: the first ``Hatchet`` in the namespace, else a new one."""
        if self._client is None:
            from hatchnb.client import Hatchet

            found = [v for v in self._ns.values() if isinstance(v, Hatchet)]
            self._client = found[0] if found else Hatchet()
            self._ns.setdefault("hatchet", self._client)
        return self._client

    def find_workflow(self, name: str) -> Workflow[Any]:
        from hatchnb.workflow import Workflow

        known = dict(self.workflows)
        for value in list(self._ns.values()):
            if isinstance(value, Workflow):
                known.setdefault(value.name, value)
        if name in known:
            return known[name]
        names = ", ".join(sorted(known)) or "none yet"
        raise UsageError(
            f"no workflow named {name!r} is declared in this kernel (known: {names}); "
            "declare it with hatchet.workflow(name=...) or %%hatchet task"
        )

    # ---- commands -------------------------------------------------------------------------

    def _cmd_help(self, args: argparse.Namespace) -> None:
        print(magics_parser.HELP)

    def _cmd_connect(self, args: argparse.Namespace) -> Hatchet:
        from hatchnb.client import Hatchet

        if self.worker is not None and self.worker.running:
            raise UsageError("stop the worker first: %hatchet worker stop")
        self._client = Hatchet(dsn=args.dsn)
        self._ns["hatchet"] = self._client
        print(f"connected; the client is `hatchet` ({_safe_dsn(self._client.dsn)})")
        return self._client

    def _cmd_worker(self, args: argparse.Namespace) -> Any:
        if args.action == "start":
            self._start_worker(args)  # it says so; the object would be echoed as a repr
            return None
        if args.action == "stop":
            if self.worker is None or not self.worker.running:
                print("no worker is running in this kernel")
                return None
            self.worker.stop(timeout=30)
            print(f"worker {self.worker.name} stopped")
            return None
        if self.worker is None:
            print("no worker has been started in this kernel: %hatchet worker start")
            return None
        return self.worker.status()

    def _start_worker(self, args: argparse.Namespace) -> Worker:
        if self.worker is not None and self.worker.running:
            raise UsageError(
                f"worker {self.worker.name} is already running; %hatchet worker stop first"
            )
        if args.slots < 1:
            raise UsageError("--slots must be at least 1")
        name = args.name or f"kernel-{os.getpid()}"
        labels = _labels(args.label)
        worker = self.client.worker(name, slots=args.slots, labels=labels)
        if args.workflow:
            worker.workflows = [self.find_workflow(w) for w in args.workflow]
            worker.workflow_names = list(args.workflow)
        self.worker = worker.start_background()
        print(f"worker {name} started in this kernel with {args.slots} slots")
        return self.worker

    def _cmd_run(self, args: argparse.Namespace) -> Any:
        data = _json(args.input, "-i")
        ref = self.find_workflow(args.workflow).run_no_wait(data)
        return ref.result() if args.wait else ref

    def _cmd_form(self, args: argparse.Namespace) -> Any:
        from hatchnb.widgets.run_form import RunForm

        with contextlib.suppress(UsageError):  # declared here: register its current code
            self.client.register(self.find_workflow(args.workflow))
        try:
            return RunForm(self.client, args.workflow)
        except errors.WorkflowNotFound as exc:
            raise UsageError(f"{exc} (a worker or hatchet.register(wf) registers it)") from None

    def _cmd_runs(self, args: argparse.Namespace) -> Any:
        from hatchnb.widgets.runs_table import RunsTable

        return RunsTable(
            self.client,
            statuses=[args.status] if args.status else None,
            workflow=args.workflow,
            limit=args.limit,
        )

    def _cmd_dag(self, args: argparse.Namespace) -> Any:
        from hatchnb.widgets import live

        if args.target in self._known_names():
            return live.workflow_view(self.find_workflow(args.target))
        try:
            return live.run_dag(self.client, args.target)
        except (errors.RunNotFound, errors.DatabaseUnavailable, ValueError) as exc:
            raise UsageError(
                f"{args.target!r} is neither a workflow name nor a run id ({exc})"
            ) from None

    def _cmd_logs(self, args: argparse.Namespace) -> None:
        lines = self.client.runs.logs(args.run_id, limit=args.limit)
        for line in lines:
            if args.task is None or line["task_name"] == args.task:
                stamp = line["created_at"].strftime("%H:%M:%S")
                print(f"{stamp} {line['task_name']} [{line['level']}] {line['message']}")
        if not lines:
            print(f"no log lines for run {args.run_id}")

    def _cmd_cancel(self, args: argparse.Namespace) -> None:
        self.client.runs.cancel(args.run_id)
        print(f"cancelled run {args.run_id}")

    def _cmd_replay(self, args: argparse.Namespace) -> Any:
        self.client.runs.replay(args.run_id, failed_only=True)
        return self.client.runs.get_run_ref(args.run_id)

    def _cmd_fork(self, args: argparse.Namespace) -> Any:
        runs = self.client.runs
        try:
            ref = runs.fork(args.run_id, args.from_task, _json(args.input, "-i"))
        except (errors.InvalidArgument, errors.InvalidWorkflow, errors.NotFound) as exc:
            raise UsageError(str(exc)) from None
        tasks = runs.get(ref.workflow_run_id, task_events=False).tasks
        reused = ", ".join(t.task_name for t in tasks if t.reused) or "nothing"
        print(
            f"run {ref.workflow_run_id} forked from {args.run_id} at {args.from_task} "
            f"(reused: {reused})"
        )
        return ref.result() if args.wait else ref

    def _cmd_diff(self, args: argparse.Namespace) -> Any:
        return self.client.runs.diff(args.run_a, args.run_b)

    def _cmd_cron(self, args: argparse.Namespace) -> Any:
        crons = self.client.cron
        if args.cron_action == "add":
            workflow = self.find_workflow(args.workflow)
            try:
                return workflow.create_cron(args.name, args.expression, _json(args.input, "-i"))
            except ValueError as exc:
                raise UsageError(f"{exc}; write a 5-field cron such as '0 6 * * *'") from None
        if args.cron_action == "ls":
            for cron in crons.list(workflow_name=args.workflow):
                print(
                    f"{cron.id}  {cron.workflow_name}  {cron.name}  {cron.expression!r}  "
                    f"next {cron.next_fire_at:%Y-%m-%d %H:%M}Z"
                )
            return None
        crons.delete(args.cron_id)
        print(f"deleted cron {args.cron_id}")
        return None

    def _cmd_schedule(self, args: argparse.Namespace) -> Any:
        workflow = self.find_workflow(args.workflow)
        if args.at is not None:
            try:
                when = datetime.fromisoformat(args.at)
            except ValueError:
                raise UsageError(
                    f"--at {args.at!r}: use ISO time, e.g. 2030-01-01T06:00Z"
                ) from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        else:
            when = datetime.now(UTC) + timedelta(seconds=args.delay)
        return workflow.schedule(when, _json(args.input, "-i"))

    def _cmd_event(self, args: argparse.Namespace) -> Any:
        return self.client.event.push(args.key, _json(args.payload, "-p") or {})

    def _cmd_dashboard(self, args: argparse.Namespace) -> Any:
        if args.stop:
            if self._dashboard is not None:
                self._dashboard.stop()
                self._dashboard = None
            return None
        try:
            dashboard = importlib.import_module("hatchnb.dashboard.serve")
        except ImportError as exc:
            raise UsageError(f"the dashboard is not available in this install ({exc})") from None
        if self._dashboard is None:
            self._dashboard = dashboard.start_dashboard(
                self.client, address=args.address, port=args.port
            )
        print(f"dashboard: {self._dashboard.url}")
        return self._dashboard

    # ---- %%hatchet task -------------------------------------------------------------------

    def _task(self, args: argparse.Namespace, cell: str | None) -> Any:
        if cell is None or not cell.strip():
            raise UsageError("%%hatchet task NAME needs a cell body: write it as a cell magic")
        if not args.name.isidentifier():
            raise UsageError(f"task name {args.name!r} must be a Python identifier")
        parents = [p.strip() for p in args.parents.split(",") if p.strip()]
        if parents and args.workflow is None:
            raise UsageError("--parents needs --workflow WF: parents live in a workflow")
        fn = self._cell_function(cell, args.name, parents)
        options: dict[str, Any] = {"retries": args.retries}
        if args.timeout is not None:
            options["execution_timeout"] = timedelta(seconds=args.timeout)
        task = self._declare(args, fn, parents, options)
        self._ns[args.name] = task
        return None

    def _cell_function(self, cell: str, name: str, parents: list[str]) -> Any:
        try:
            if cell_tasks.defines_function(cell, name):
                result = self._shell.run_cell(cell, store_history=False)
                result.raise_error()
                return self._ns[name]
            return cell_tasks.build_function(cell, name, parents, self._ns)
        except cell_tasks.CellTaskError as exc:
            raise UsageError(str(exc)) from None

    def _declare(
        self, args: argparse.Namespace, fn: Any, parents: list[str], options: dict[str, Any]
    ) -> Any:
        client = self.client
        try:
            if args.workflow is None:
                standalone = client.task(name=args.name, input_validator=dict, **options)(fn)
                self.workflows[args.name] = standalone
                version = client.register(standalone)
                print(f"task {args.name} registered (version {version})")
                return standalone
            workflow = self._workflow_for_cells(args.workflow)
            parent_tasks = [self._parent(workflow, p) for p in parents]
            task = workflow.task(name=args.name, parents=parent_tasks, **options)(fn)
            version = client.register(workflow)
        except errors.InvalidWorkflow as exc:
            raise UsageError(str(exc)) from None
        if self.worker is not None and self.worker.workflow_names is not None:
            self.worker.register_workflow(workflow)
        print(f"task {args.name} added to {workflow.name} (version {version})")
        return task

    def _workflow_for_cells(self, name: str) -> Workflow[Any]:
        try:
            return self.find_workflow(name)
        except UsageError:
            workflow = self.client.workflow(name=name, input_validator=dict)
            self.workflows[name] = workflow
            return workflow

    @staticmethod
    def _parent(workflow: Workflow[Any], name: str) -> Any:
        try:
            return workflow.get_task(name)
        except KeyError:
            have = ", ".join(t.name for t in workflow.tasks) or "none yet"
            raise UsageError(
                f"workflow {workflow.name!r} has no task {name!r} (it has: {have}); "
                "define the parent's cell first"
            ) from None

    def _known_names(self) -> set[str]:
        from hatchnb.workflow import Workflow

        names = set(self.workflows)
        names.update(v.name for v in self._ns.values() if isinstance(v, Workflow))
        return names


def _safe_dsn(dsn: str) -> str:
    """The DSN without its password."""
    head, at, tail = dsn.rpartition("@")
    if not at or ":" not in head.split("//")[-1]:
        return dsn
    scheme, _, user_pass = head.partition("//")
    return f"{scheme}//{user_pass.split(':')[0]}:***@{tail}"
