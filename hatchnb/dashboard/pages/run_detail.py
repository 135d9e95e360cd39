"""One run: live DAG, Gantt timeline of task attempts, input/output, streaming logs, durable
event log and executed notebooks; its lineage and "Fork from here"."""

from __future__ import annotations

import html
import io
import json
import re
import urllib.parse
import uuid
from datetime import UTC, datetime
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource, HoverTool
from bokeh.plotting import figure

from hatchnb import errors, notebook_tasks
from hatchnb.dashboard import common
from hatchnb.features.traces import ENGINE_SCOPE
from hatchnb.records import FINAL, Role, TraceSpan, WorkflowRun
from hatchnb.widgets.dag import STATUS_COLORS, DagView, run_statuses

GANTT_COLUMNS = ("task", "start", "end", "color", "label", "attempt")
DURABLE_COLUMNS = ["task_name", "branch", "seq", "kind", "request", "event_key", "done", "result"]
MAX_LOG_LINES = 2000


def gantt_rows(run: WorkflowRun, attempts: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Bars: one per finished attempt, plus the current attempt of running tasks and the
    queue wait of queued ones (drawn up to now)."""
    now = datetime.now(UTC)
    bars: list[tuple[str, datetime, datetime, str, str, int]] = []
    for a in attempts:
        start = a["started_at"] or a["queued_at"] or a["finished_at"]
        status, label = attempt_outcome(a["outcome"], a["error"])
        bars.append((a["task_name"], start, a["finished_at"], status, label, a["attempt"]))
    for t in run.tasks:
        if t.status == "RUNNING" and t.started_at:
            bars.append((t.task_name, t.started_at, now, "RUNNING", "RUNNING", t.attempt))
        elif t.status == "QUEUED" and t.queued_at:
            bars.append((t.task_name, t.queued_at, now, "QUEUED", "QUEUED", t.attempt + 1))
    data: dict[str, list[Any]] = {c: [] for c in GANTT_COLUMNS}
    for task, start, end, status, label, attempt in bars:
        data["task"].append(task)
        data["start"].append(start.replace(tzinfo=None))
        data["end"].append(end.replace(tzinfo=None))
        data["color"].append(STATUS_COLORS.get(status, "#cccccc"))
        data["label"].append(label)
        data["attempt"].append(attempt)
    return data


def attempt_outcome(outcome: str, error: str | None) -> tuple[str, str]:
    """The colour key and the legend label of a finished attempt: an attempt that failed
    and was retried went back to QUEUED, but it failed (it was drawn light blue)."""
    if outcome == "QUEUED":
        return ("FAILED", "failed, retried") if error else ("CANCELLED", "handed back")
    return outcome, outcome


ATTEMPT_COLUMNS = ["task", "attempt", "outcome", "worker", "started", "seconds", "error"]
#: characters of an attempt's error shown in the attempts table
ERROR_PREVIEW = 300


def attempt_rows(attempts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attempts table: every finished attempt with its outcome and error message."""
    rows = []
    for a in attempts:
        # the first line (the exception and its message); the traceback is under Outputs
        error = (a["error"] or "").strip().split("\n", 1)[0]
        rows.append(
            {
                "task": a["task_name"],
                "attempt": a["attempt"],
                "outcome": attempt_outcome(a["outcome"], a["error"])[1],
                "worker": str(a["worker_id"] or "")[:8],
                "started": common.when(a["started_at"]),
                "seconds": common.seconds(a["started_at"], a["finished_at"]),
                "error": error if len(error) <= ERROR_PREVIEW else error[:ERROR_PREVIEW] + "…",
            }
        )
    return rows


def gantt_figure(source: ColumnDataSource, tasks: list[str]) -> Any:
    plot = figure(
        y_range=list(reversed(tasks)) or ["-"],
        x_axis_type="datetime",
        height=max(180, 40 * len(tasks) + 100),  # room for the legend above the bars
        sizing_mode="stretch_width",
        toolbar_location=None,
        title="Task attempts",
    )
    plot.hbar(
        y="task",
        left="start",
        right="end",
        height=0.6,
        fill_color="color",
        line_color="#555555",
        source=source,
        legend_field="label",
    )
    # the legend beside the bars, one entry per outcome drawn (grouped in the browser, so
    # it follows the data as the run goes on)
    legend = plot.legend[0]
    legend.orientation = "horizontal"
    legend.click_policy = "none"
    plot.add_layout(legend, "above")
    plot.add_tools(
        HoverTool(tooltips=[("task", "@task"), ("attempt", "@attempt"), ("outcome", "@label")])
    )
    return plot


def _json_text(value: Any) -> str:
    return json.dumps(value, indent=2, default=str)


class RunDetailPage:
    def __init__(self, config: common.DashboardConfig, run_id: str) -> None:
        self.config = config
        self.hatchet = config.client
        self.run_id = run_id
        self.run = self.hatchet.runs.get(run_id, task_events=False)
        tasks = [t for t in self.run.tasks if t.kind == "task"]
        self.dag = DagView({t.task_name: list(t.parents) for t in tasks})
        self.gantt_source = ColumnDataSource(name="gantt", data={c: [] for c in GANTT_COLUMNS})
        self.gantt = gantt_figure(self.gantt_source, [t.task_name for t in self.run.tasks])
        self.header = pn.pane.HTML("", name="run_header")
        self.outputs = pn.pane.HTML("", name="outputs", sizing_mode="stretch_width")
        self.logs = pn.pane.HTML("", name="logs", sizing_mode="stretch_width")
        self.durable = common.table(DURABLE_COLUMNS, "durable_log")
        self.attempts = common.table(ATTEMPT_COLUMNS, "attempts")
        self.notebooks = pn.Column(name="notebooks")
        self.spans = pn.pane.HTML("", name="spans", sizing_mode="stretch_width")
        self._spans_final = False
        self.cancel = pn.widgets.Button(label="Cancel run", color="danger", width=130)
        self.replay = pn.widgets.Button(label="Replay run", color="warning", width=130)
        self.feedback = pn.pane.HTML("", name="feedback")
        self.lineage = pn.pane.HTML("", name="lineage")
        self.fork_task = pn.widgets.Select(
            label="fork from task", options=[t.task_name for t in tasks], width=200
        )
        self.fork = pn.widgets.Button(label="Fork from here", color="primary", width=140)
        self.fork.on_click(lambda _: self._fork())
        self.operator = common.may(config, Role.OPERATOR)
        self.payloads = common.shows_payloads(config)
        self.cancel.on_click(lambda _: self._act("cancel"))
        self.replay.on_click(lambda _: self._act("replay"))
        self._log_lines: list[str] = []
        self._last_log_id = 0
        self._outputs_key = ""
        self._notebooks_seen: set[tuple[str, int]] = set()

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(common.POLL_MS, self.refresh)
        return pn.Column(
            self.header,
            pn.Row(self.cancel, self.replay, self.feedback),
            self.lineage,
            pn.Row(self.fork_task, self.fork),
            pn.Row(self.dag.panel(), pn.Column("### Input", self._input_pane())),
            pn.pane.Bokeh(self.gantt, sizing_mode="stretch_width"),
            "### Attempts",
            self.attempts,
            "### Outputs and errors",
            self.outputs,
            "### Logs",
            self.logs,
            "### Durable event log",
            self.durable,
            self.spans,
            self.notebooks,
            sizing_mode="stretch_width",
        )

    def _input_pane(self) -> pn.pane.HTML:
        text = html.escape(_json_text(self.run.input) if self.payloads else common.HIDDEN)
        return pn.pane.HTML(f"<pre name='run_input'>{text}</pre>")

    def refresh(self) -> None:
        self.run = self.hatchet.runs.get(self.run_id, task_events=False)
        self.dag.set_status(*run_statuses(self.run))
        finished = str(self.run.status) in FINAL
        # a finished run cannot be cancelled, a running one not replayed (the actions check too)
        self.cancel.disabled = not self.operator or finished
        self.replay.disabled = not self.operator or not finished
        self.fork.disabled = not self.operator
        self._header()
        self._lineage()
        self._gantt()
        self._outputs()
        self._logs()
        self._durable()
        self._spans(finished)
        self._notebooks()

    def _header(self) -> None:
        r = self.run
        text = (
            f"<h2>Run {html.escape(r.workflow_run_id)}</h2>"
            f"<p>workflow {common.workflow_link(r.workflow_name)} · "
            f"{common.badge(str(r.status))} · "
            f"created {common.when(r.created_at)} · started {common.when(r.started_at)} · "
            f"finished {common.when(r.finished_at)}{_trace(r.additional_metadata)}</p>"
        )
        if self.header.object != text:
            self.header.object = text

    def _spans(self, finished: bool) -> None:
        """A traced run's spans (``hatchet.traces``), read again until once after the run
        finished (a worker's last spans are stored a moment after it)."""
        if self._spans_final or not _trace(self.run.additional_metadata):
            return
        text = spans_html(self.hatchet.traces.get(self.run_id))
        self._spans_final = finished
        if self.spans.object != text:
            self.spans.object = text

    def _lineage(self) -> None:
        text = lineage_html(self.run, self.hatchet.runs.forks(self.run_id))
        if self.lineage.object != text:
            self.lineage.object = text

    def _gantt(self) -> None:
        attempts = self.hatchet.runs.attempts(self.run_id)
        data = gantt_rows(self.run, attempts)
        if data != dict(self.gantt_source.data):
            self.gantt_source.data = data
        common.update_table(self.attempts, common.frame(attempt_rows(attempts), ATTEMPT_COLUMNS))

    def _outputs(self) -> None:
        parts = []
        for t in self.run.tasks:
            output = _json_text(t.output) if self.payloads else common.HIDDEN
            body = t.error if t.error else output
            parts.append(
                f"<div><b>{html.escape(t.task_name)}</b> {common.badge(str(t.status))}"
                f"{' (reused from the source run)' if t.reused else ''}"
                f"{_collapsed(body or '')}</div>"
            )
        text = "".join(parts)
        if text != self._outputs_key:
            self._outputs_key = text
            self.outputs.object = text

    def _logs(self) -> None:
        rows = self.hatchet.runs.logs_after(self.run_id, after=self._last_log_id)
        if not rows:
            if not self._log_lines:
                done = str(self.run.status) in FINAL
                empty = "(no log lines)" if done else "(no log lines yet)"
                self.logs.object = f"<pre class='hatchnb-logs'>{empty}</pre>"
            return
        self._last_log_id = rows[-1]["id"]
        self._log_lines += [
            f"{common.when(r['created_at'])} {r['task_name']}#{r['attempt']} "
            f"{r['level']}: {r['message']}"
            for r in rows
        ]
        self._log_lines = self._log_lines[-MAX_LOG_LINES:]
        text = html.escape("\n".join(self._log_lines))
        self.logs.object = (
            f"<pre class='hatchnb-logs' style='max-height:320px;overflow:auto'>{text}</pre>"
        )

    def _durable(self) -> None:
        rows = self.hatchet.runs.durable_log(self.run_id)
        if not self.payloads:
            rows = [{**r, "request": common.HIDDEN, "result": common.HIDDEN} for r in rows]
        common.update_table(self.durable, common.frame(rows, DURABLE_COLUMNS))

    def _notebooks(self) -> None:
        if not self.payloads:
            return
        runs = self.hatchet.runs
        for row in runs.notebooks(self.run_id):
            key = (row["task_name"], row["attempt"])
            if key in self._notebooks_seen:
                continue
            self._notebooks_seen.add(key)
            page = runs.render_notebook_html(row["task_run_id"])
            if page is None:
                continue
            title = (
                f"<h3>Executed notebook: {html.escape(row['task_name'])} "
                f"(attempt {int(row['attempt'])})</h3>"
            )
            frame = notebook_tasks.notebook_frame(page, height=600)
            downloads = self._notebook_downloads(row, page)
            self.notebooks.append(pn.pane.HTML(title, sizing_mode="stretch_width"))
            self.notebooks.append(downloads)
            self.notebooks.append(pn.pane.HTML(frame, sizing_mode="stretch_width"))

    def _notebook_downloads(self, row: dict[str, Any], page: str) -> pn.Row:
        """The executed notebook as a file: .ipynb as stored, and the rendered .html."""
        task = re.sub(r"[^A-Za-z0-9._-]+", "_", str(row["task_name"]))
        stem = f"{self.run_id}-{task}-attempt{int(row['attempt'])}"
        task_run_id = row["task_run_id"]

        def ipynb() -> io.BytesIO:
            return io.BytesIO(self.hatchet.runs.get_notebook(task_run_id) or b"")

        return pn.Row(
            pn.widgets.FileDownload(
                callback=ipynb, filename=f"{stem}.ipynb", label="Download .ipynb", width=170
            ),
            pn.widgets.FileDownload(
                file=io.BytesIO(page.encode()),
                filename=f"{stem}.html",
                label="Download .html",
                width=170,
            ),
        )

    def _fork(self) -> None:
        user = common.authorize(self.config, Role.OPERATOR, "fork runs", self.feedback)
        if user is None:
            return
        task = self.fork_task.value
        try:
            ref = self.hatchet.runs.fork(self.run_id, from_task=task)
        except (errors.HatchnbError, ValueError) as exc:
            self.feedback.object = common.message(f"cannot fork: {exc}", "error")
            return
        new_id = ref.workflow_run_id
        common.audit(self.config, user, "fork", self.run_id, from_task=task, run=new_id)
        self.feedback.object = (
            f"{common.message(f'forked at {task}:', 'ok')} "
            f"<span name='fork_link'>{common.run_link(new_id)}</span>"
        )
        self.refresh()

    def _act(self, action: str) -> None:
        user = common.authorize(self.config, Role.OPERATOR, "cancel or replay runs", self.feedback)
        if user is None:
            return
        if action == "cancel":
            self.hatchet.runs.cancel(self.run_id)
        else:
            self.hatchet.runs.replay(self.run_id)
        common.audit(self.config, user, action, self.run_id)
        self.feedback.object = common.message(f"{action} requested", "ok")
        self.refresh()


def build(config: common.DashboardConfig, run_id: str | None) -> pn.viewable.Viewable:
    if not run_id:
        return pn.pane.HTML(common.message("no run id given (?page=run&id=...)", "error"))
    try:
        uuid.UUID(run_id)
        return RunDetailPage(config, run_id).view()
    except (errors.RunNotFound, ValueError) as exc:
        return pn.pane.HTML(common.message(str(exc), "error"))


#: characters of an output or error shown before "show all"
OUTPUT_PREVIEW = 1200


def _collapsed(text: str) -> str:
    """An output or error in a scrolling box; a long one shows its start and opens in full
    on "show all" (a 500-number output made the page 9,800 px tall)."""
    box = "style='max-height:260px;overflow:auto;white-space:pre-wrap'"
    if len(text) <= OUTPUT_PREVIEW:
        return f"<pre {box}>{html.escape(text)}</pre>"
    return (
        f"<pre {box}>{html.escape(text[:OUTPUT_PREVIEW])}…</pre>"
        f"<details><summary>show all ({len(text):,} characters)</summary>"
        f"<pre {box}>{html.escape(text)}</pre></details>"
    )


def diff_link(run_a: str, run_b: str) -> str:
    query = urllib.parse.urlencode({"page": "diff", "a": run_a, "b": run_b})
    return f'<a href="?{html.escape(query)}">what changed</a>'


def lineage_html(run: WorkflowRun, forks: list[dict[str, Any]]) -> str:
    """ "forked from RUN at TASK" with a link to the diff, and the run's forks."""
    lines = []
    if run.forked_from:
        lines.append(
            f"forked from {common.run_link(run.forked_from)} at "
            f"<b>{html.escape(run.forked_at_task or '')}</b> · "
            f"{diff_link(run.forked_from, run.workflow_run_id)}"
        )
    if forks:
        items = ", ".join(
            f"{common.run_link(f['run_id'])} (at {html.escape(f['forked_at_task'])}, "
            f"{diff_link(run.workflow_run_id, f['run_id'])})"
            for f in forks
        )
        lines.append(f"forks: {items}")
    return f"<p class='hatchnb-lineage'>{'<br>'.join(lines)}</p>" if lines else ""


def spans_html(spans: list[TraceSpan]) -> str:
    """A run's trace as an indented tree of its spans: name, service, duration and an error
    status (attributes are left out: they may hold payloads); nothing when only the
    engine's spans are there (no process stored any)."""
    if all(s.scope_name == ENGINE_SCOPE for s in spans):
        return ""
    known = {s.span_id for s in spans}
    children: dict[str | None, list[TraceSpan]] = {}
    for s in spans:
        children.setdefault(s.parent_span_id if s.parent_span_id in known else None, []).append(s)
    items: list[str] = []

    def add(parent: str | None, depth: int) -> None:
        for s in children.get(parent, []):
            error = " · <b>error</b>" if s.status_code == "ERROR" else ""
            items.append(
                f"<li style='margin-left:{depth * 1.2}em'><code>{html.escape(s.span_name)}"
                f"</code> · {html.escape(s.service_name)} · {s.duration_ns / 1e6:.1f} ms"
                f"{error}</li>"
            )
            add(s.span_id, depth + 1)

    add(None, 0)
    return (
        "<h3>Trace</h3><ul class='hatchnb-spans' style='list-style:none;padding-left:0'>"
        f"{''.join(items)}</ul>"
    )


def _trace(metadata: dict[str, Any]) -> str:
    """The OpenTelemetry trace id the run belongs to, from its W3C traceparent."""
    parts = str(metadata.get("traceparent", "")).split("-")
    if len(parts) != 4 or len(parts[1]) != 32:
        return ""
    return f" · trace <code name='trace_id'>{html.escape(parts[1])}</code>"
