"""The run widget: DAG, progress, per-task status and duration, logs, output preview,
executed notebooks, Cancel / Replay buttons, lineage, "Fork from here" and, for a fork,
what changed since its source. It reads through ``hatchet.runs``."""

from __future__ import annotations

import html
import json
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from hatchnb import notebook_tasks
from hatchnb.errors import HatchnbError
from hatchnb.widgets import live
from hatchnb.widgets.dag import run_parents, run_statuses, status_color
from hatchnb.widgets.dag_svg import DagWidget

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.records import TaskRun, WorkflowRun

DONE = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"})
_BAR_STYLE = {"SUCCEEDED": "success", "FAILED": "danger", "CANCELLED": "warning"}
LOG_LINES = 200


def preview(output: Any, limit: int = 120) -> str:
    """A short text for a task output (pickled outputs are shown by their stored repr)."""
    if output is None:
        return ""
    if isinstance(output, dict) and "$pickled" in output:
        text = f"{output['$pickled']}: {' '.join(str(output.get('repr', '')).split())}"
    else:
        text = json.dumps(output, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _duration(task: TaskRun) -> str:
    if task.started_at is None:
        return ""
    if task.finished_at is None:
        return "running"
    return f"{(task.finished_at - task.started_at).total_seconds():.2f}s"


def _badge(status: str) -> str:
    color = status_color(status)
    return f'<span style="background:{color};padding:0 6px;border-radius:3px">{status}</span>'


def _reused(task: TaskRun) -> str:
    return " <small>(reused)</small>" if task.reused else ""


def lineage_html(run: WorkflowRun, forks: list[dict[str, Any]]) -> str:
    """ "forked from RUN at TASK" and "forks: RUN (at TASK), ..." ('' when neither)."""
    parts = []
    if run.forked_from:
        parts.append(
            f"forked from <code>{html.escape(run.forked_from)}</code> at "
            f"<b>{html.escape(run.forked_at_task or '')}</b>"
        )
    if forks:
        listed = ", ".join(
            f"<code>{html.escape(f['run_id'])}</code> (at {html.escape(f['forked_at_task'])})"
            for f in forks
        )
        parts.append(f"forks: {listed}")
    return f'<div class="hatchnb-lineage">{"<br>".join(parts)}</div>' if parts else ""


def task_table(run: WorkflowRun) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(t.task_name)}{_reused(t)}</td><td>{_badge(str(t.status))}</td>"
        f"<td>{t.attempt or ''}</td><td>{_duration(t)}</td>"
        f"<td><code>{html.escape(preview(t.output))}</code></td></tr>"
        for t in run.tasks
    )
    head = "<tr><th>task</th><th>status</th><th>attempt</th><th>duration</th><th>output</th></tr>"
    return f'<table class="hatchnb-tasks">{head}{rows}</table>'


class RunWidget:
    """Follows one workflow run live; display it as the last expression of a cell."""

    def __init__(self, client: Hatchet, run_id: str) -> None:
        self.client = client
        self.run_id = str(run_id)
        self._lock = threading.Lock()
        self.run = client.runs.get(self.run_id, task_events=False)
        self.dag = DagWidget(run_parents(self.run))
        self.title = w.HTML()
        self.progress = w.IntProgress(min=0, max=1, value=0, description="0/0")
        self.tasks = w.HTML()
        self.logs = w.HTML()
        self.cancel_button = w.Button(description="Cancel", icon="stop")
        self.replay_button = w.Button(description="Replay", icon="redo")
        self.message = w.Label()
        self.lineage = w.HTML()
        task_names = [t.task_name for t in self.run.tasks if t.kind == "task"]
        self.fork_choice = w.Dropdown(description="from task", options=task_names)
        self.fork_button = w.Button(description="Fork from here", icon="code-branch")
        self.diff_button = w.Button(description="What changed", icon="exchange")
        self.diff_button.layout.display = "flex" if self.run.forked_from else "none"
        self.diff_view = w.HTML()
        self.again_button = w.Button(description="Run again…", icon="play")
        #: the form "Run again…" opened, filled with this run's input
        self.again_form: Any = None
        self.again_area = w.VBox([])
        #: the RunWidget of the last fork started here (shown below this one)
        self.forked: RunWidget | None = None
        self.fork_area = w.VBox([])
        self.notebook_choice = w.Dropdown(description="notebook", options=[])
        self.notebook_button = w.Button(description="Show notebook")
        self.notebook_view = w.HTML()
        self.notebook_box = w.VBox(
            [w.HBox([self.notebook_choice, self.notebook_button]), self.notebook_view]
        )
        self.notebook_box.layout.display = "none"
        self.box = w.VBox(
            [
                self.title,
                self.dag.widget,
                self.progress,
                self.tasks,
                w.HBox([self.cancel_button, self.replay_button, self.message]),
                self.lineage,
                w.HBox([self.fork_choice, self.fork_button, self.diff_button, self.again_button]),
                self.diff_view,
                self.again_area,
                self.notebook_box,
                self.logs,
                self.fork_area,
            ]
        )
        self.cancel_button.on_click(lambda _: self.cancel())
        self.replay_button.on_click(lambda _: self.replay())
        self.notebook_button.on_click(lambda _: self.show_notebook())
        self.fork_button.on_click(lambda _: self.fork())
        self.diff_button.on_click(lambda _: self.show_diff())
        self.again_button.on_click(lambda _: self.run_again())
        self.refresh(self.run)
        self.follow()

    # ---- updates ------------------------------------------------------------------------

    def follow(self) -> None:
        live.watcher_for(self.client).add(self.poll)

    def poll(self) -> bool:
        run = self.client.runs.get(self.run_id, task_events=False)
        self.refresh(run)
        return str(run.status) not in live.FINAL

    def refresh(self, run: WorkflowRun) -> None:
        with self._lock:
            self.run = run
            self.dag.set_status(*run_statuses(run))
            tasks = [t for t in run.tasks if t.kind == "task"]
            done = sum(1 for t in tasks if str(t.status) in DONE)
            self.progress.max = max(1, len(tasks))
            self.progress.value = done
            self.progress.description = f"{done}/{len(tasks)}"
            self.progress.bar_style = _BAR_STYLE.get(str(run.status), "info")
            self.title.value = (
                f"<b>{html.escape(run.workflow_name)}</b> run <code>{run.workflow_run_id}</code>"
                f" {_badge(str(run.status))}"
            )
            self.tasks.value = task_table(run)
            self.cancel_button.disabled = str(run.status) in live.FINAL
            self.replay_button.disabled = str(run.status) not in live.FINAL
            self._refresh_logs()
            self._refresh_notebooks()
            lineage = lineage_html(run, self.client.runs.forks(self.run_id))
            if lineage != self.lineage.value:
                self.lineage.value = lineage

    def _refresh_logs(self) -> None:
        lines = self.client.runs.logs(self.run_id, limit=LOG_LINES)
        text = "\n".join(
            f"{r['created_at']:%H:%M:%S} {r['task_name']} [{r['level']}] {r['message']}"
            for r in lines
        )
        value = (
            f'<pre style="max-height:12em;overflow:auto;font-size:11px">{html.escape(text)}</pre>'
            if text
            else ""
        )
        if value != self.logs.value:
            self.logs.value = value

    def _refresh_notebooks(self) -> None:
        names = [r["task_name"] for r in self.client.runs.notebooks(self.run_id)]
        if names and list(self.notebook_choice.options) != names:
            self.notebook_choice.options = names
            self.notebook_box.layout.display = "flex"

    # ---- buttons ------------------------------------------------------------------------

    def cancel(self) -> None:
        self.client.runs.cancel(self.run_id)
        self.message.value = "cancel requested"
        self.follow()

    def replay(self) -> None:
        self.client.runs.replay(self.run_id, failed_only=True)
        self.message.value = "replayed: failed and downstream tasks run again"
        self.follow()

    def fork(self) -> RunWidget | None:
        """Start a fork from the chosen task and show the new run below this one."""
        task = self.fork_choice.value
        try:
            ref = self.client.runs.fork(self.run_id, from_task=task)
        except (HatchnbError, ValueError) as exc:
            self.message.value = f"cannot fork: {exc}"
            return None
        self.message.value = f"forked at {task}: run {ref.workflow_run_id}"
        self.forked = RunWidget(self.client, ref.workflow_run_id)
        self.fork_area.children = [self.forked.box]
        self.refresh(self.client.runs.get(self.run_id, task_events=False))
        return self.forked

    def show_diff(self) -> None:
        """What changed from the run this one was forked from to this one."""
        source = self.run.forked_from
        if source is None:
            self.diff_view.value = "this run is not a fork"
            return
        self.diff_view.value = self.client.runs.diff(source, self.run_id)._repr_html_()

    def run_again(self) -> Any:
        """Open the workflow's form filled with this run's input: change a field, then run
        now, at a time, or on a cron."""
        from hatchnb.widgets.run_form import RunForm

        try:
            self.again_form = RunForm(self.client, self.run.workflow_name, initial=self.run.input)
        except HatchnbError as exc:
            self.message.value = f"no form: {exc}"
            return None
        self.again_area.children = [self.again_form.box]
        return self.again_form

    def show_notebook(self) -> None:
        task = self.notebook_choice.value
        page = self.client.runs.render_notebook_html(self.run_id, task) if task else None
        if page is None:
            self.notebook_view.value = "no executed notebook stored"
            return
        self.notebook_view.value = notebook_tasks.notebook_frame(page, height=480)

    # ---- display --------------------------------------------------------------------------

    def _ipython_display_(self) -> None:
        live.show(self.box)

    def __repr__(self) -> str:
        return f"<RunWidget {self.run_id} {self.run.status}>"
