"""The DAG of a workflow or run: one layout and colour source (``DagState``) and its Bokeh
drawing (``DagView``), used by the dashboard. Notebooks draw the same state as SVG in an
ipywidget (``hatchnb.widgets.dag_svg.DagWidget``), the transport that reaches JupyterLab
from the widgets' polling thread while a cell is busy.

``DagView.set_status`` may be called from any thread: in a ``panel serve`` session the
change is applied on the session's next tick (Bokeh refuses changes from foreign threads
there), elsewhere it is applied at once."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bokeh.models import (
    ColumnDataSource,
    GraphRenderer,
    HoverTool,
    LabelSet,
    MultiLine,
    Range1d,
    Rect,
    StaticLayoutProvider,
)
from bokeh.plotting import figure

from hatchnb.widgets.layout import layered_layout

if TYPE_CHECKING:
    import panel as pn

    from hatchnb.client import Hatchet
    from hatchnb.records import WorkflowRun
    from hatchnb.workflow import Workflow

__all__ = [
    "BOX_H",
    "BOX_W",
    "DETAIL_FIELDS",
    "STATUS_COLORS",
    "DagState",
    "DagView",
    "layered_layout",
    "run_parents",
    "run_statuses",
    "status_color",
    "workflow_parents",
]

#: one colour per ``hatchnb.records.RunStatus`` (a test checks that none is missing)
STATUS_COLORS: dict[str, str] = {
    "PENDING": "#d9d9d9",
    "WAITING": "#e4d4f4",
    "QUEUED": "#bdd7ee",
    "BLOCKED": "#f7c6d9",
    "RUNNING": "#ffd966",
    "SUCCEEDED": "#a9d18e",
    "FAILED": "#f4b183",
    "CANCELLED": "#a6a6a6",
    "SKIPPED": "#f2f2f2",
}
UNKNOWN_COLOR = "#ffffff"
#: per-node hover fields filled from ``set_status(details=...)``; other keys go to "extra"
DETAIL_FIELDS = ("started", "duration", "attempt", "worker")
#: node box size in layout units (one unit between layers and between neighbours)
BOX_W, BOX_H = 0.8, 0.4

Patch = dict[str, list[tuple[int, str]]]


def status_color(status: str) -> str:
    return STATUS_COLORS.get(status, UNKNOWN_COLOR)


class DagState:
    """Nodes, their layered positions and one row per node (status, colour, hover details).

    ``parents`` maps each node (task name) to its parents, in declaration order. Not
    thread-safe by itself: its views serialise calls to ``update``."""

    def __init__(self, parents: Mapping[str, Sequence[str]]) -> None:
        self.parents = {node: list(ps) for node, ps in parents.items()}
        self.nodes_order = list(self.parents)
        self.index = {node: i for i, node in enumerate(self.nodes_order)}
        self.positions = layered_layout(self.parents) if self.parents else {}
        self.rows = {n: empty_row() for n in self.nodes_order}

    def edges(self) -> list[tuple[str, str]]:
        """``(parent, child)`` pairs between nodes of this DAG."""
        return [(p, c) for c, ps in self.parents.items() for p in ps if p in self.positions]

    def statuses(self) -> dict[str, str]:
        return {n: row["status"] for n, row in self.rows.items()}

    def update(
        self,
        statuses: Mapping[str, str],
        details: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Patch:
        """Apply new statuses and details; returns the changed cells as
        ``{column: [(node index, value), ...]}`` (empty when nothing changed)."""
        details = details or {}
        patch: Patch = {}
        for node in self.nodes_order:
            wanted = dict(self.rows[node])
            if node in statuses:
                status = str(statuses[node])
                wanted.update(status=status, color=status_color(status))
            if node in details:
                wanted.update(_detail_columns(details[node]))
            for column, value in wanted.items():
                if value != self.rows[node][column]:
                    patch.setdefault(column, []).append((self.index[node], value))
            self.rows[node] = wanted
        return patch


def empty_row() -> dict[str, str]:
    row = dict.fromkeys((*DETAIL_FIELDS, "extra"), "")
    row.update(status="PENDING", color=STATUS_COLORS["PENDING"])
    return row


class DagView:
    """The Bokeh drawing of a ``DagState`` (the dashboard's live DAG)."""

    def __init__(self, parents: Mapping[str, Sequence[str]], *, name: str = "dag_nodes") -> None:
        self.state = DagState(parents)
        self.parents = self.state.parents
        self.nodes_order = self.state.nodes_order
        self._lock = threading.Lock()
        self._pane: pn.pane.Bokeh | None = None
        self.nodes = ColumnDataSource(name=name, data=self._initial_data())
        self.figure = self._build_figure()

    # ---- building ---------------------------------------------------------------------

    def _initial_data(self) -> dict[str, list[Any]]:
        positions, order = self.state.positions, self.nodes_order
        data: dict[str, list[Any]] = {
            "index": list(order),
            "name": list(order),
            "x": [positions[n][0] for n in order],
            "y": [positions[n][1] for n in order],
        }
        for column in empty_row():
            data[column] = [self.state.rows[n][column] for n in order]
        return data

    def _edge_data(self) -> dict[str, list[Any]]:
        positions, edges = self.state.positions, self.state.edges()
        return {
            "start": [p for p, _ in edges],
            "end": [c for _, c in edges],
            "xs": [[positions[p][0], positions[c][0]] for p, c in edges],
            "ys": [[positions[p][1] - BOX_H / 2, positions[c][1] + BOX_H / 2] for p, c in edges],
        }

    def _build_figure(self) -> Any:
        positions = self.state.positions
        xs = [x for x, _ in positions.values()] or [0.0]
        ys = [y for _, y in positions.values()] or [0.0]
        graph = GraphRenderer()
        graph.node_renderer.data_source = self.nodes
        graph.node_renderer.glyph = Rect(
            width=BOX_W, height=BOX_H, fill_color="color", line_color="#555555"
        )
        graph.edge_renderer.data_source.data = self._edge_data()
        graph.edge_renderer.glyph = MultiLine(line_color="#888888", line_width=1.5)
        graph.layout_provider = StaticLayoutProvider(graph_layout=dict(positions))
        plot = figure(
            width=max(260, int(150 * (max(xs) - min(xs) + 1.4))),
            height=max(160, int(110 * (max(ys) - min(ys) + 1.2))),
            tools="pan,wheel_zoom,reset,tap",
            toolbar_location=None,
            x_range=Range1d(min(xs) - 0.6, max(xs) + 0.6),
            y_range=Range1d(min(ys) - 0.5, max(ys) + 0.5),
        )
        plot.axis.visible = False
        plot.grid.visible = False
        plot.outline_line_color = None
        plot.renderers.append(graph)
        plot.add_layout(
            LabelSet(
                x="x",
                y="y",
                text="name",
                source=self.nodes,
                text_align="center",
                text_baseline="middle",
                text_font_size="11px",
            )
        )
        tooltips = [("task", "@name"), ("status", "@status")]
        tooltips += [(f, f"@{f}") for f in DETAIL_FIELDS] + [("", "@extra")]
        plot.add_tools(HoverTool(renderers=[graph.node_renderer], tooltips=tooltips))
        return plot

    @classmethod
    def from_workflow(cls, workflow: Workflow[Any], *, name: str = "dag_nodes") -> DagView:
        """The DAG of a declared workflow (all nodes PENDING)."""
        return cls(workflow_parents(workflow), name=name)

    @classmethod
    def from_run(cls, hatchet: Hatchet, run_id: str, *, name: str = "dag_nodes") -> DagView:
        """The DAG of a run, coloured with its current task statuses."""
        run = hatchet.runs.get(str(run_id), task_events=False)
        view = cls(run_parents(run), name=name)
        view.set_status(*run_statuses(run))
        return view

    # ---- display ------------------------------------------------------------------------

    def panel(self) -> pn.pane.Bokeh:
        """The figure in a Panel pane (one per view: a Bokeh model lives in one document)."""
        if self._pane is None:
            import panel as pn

            self._pane = pn.pane.Bokeh(self.figure)
        return self._pane

    # ---- updates --------------------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        with self._lock:
            return self.state.statuses()

    def set_status(
        self,
        statuses: Mapping[str, str],
        details: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Recolour nodes; only changed cells are sent. Safe from any thread."""
        with self._lock:
            patch = self.state.update(statuses, details)
        if patch:
            self._schedule(lambda: self.nodes.patch(patch))

    def _schedule(self, apply: Any) -> None:
        doc = self.figure.document
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(apply)  # panel serve: run on the session loop, locked
        else:
            apply()


def workflow_parents(workflow: Workflow[Any]) -> dict[str, list[str]]:
    return {t.name: [p.name for p in t.parents] for t in workflow.tasks}


def run_parents(run: WorkflowRun) -> dict[str, list[str]]:
    """The DAG of a run's tasks (``on_failure``/``on_success`` hooks are not drawn)."""
    return {t.task_name: list(t.parents) for t in run.tasks if t.kind == "task"}


def _detail_columns(detail: Mapping[str, str]) -> dict[str, str]:
    columns = {f: str(detail.get(f, "")) for f in DETAIL_FIELDS}
    extra = [f"{k}: {v}" for k, v in detail.items() if k not in DETAIL_FIELDS and v]
    columns["extra"] = "; ".join(extra)
    return columns


def _duration(start: datetime | None, end: datetime | None) -> str:
    if start is None:
        return ""
    if end is None:
        return "running"
    return f"{(end - start).total_seconds():.2f}s"


def run_statuses(run: WorkflowRun) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    """``(statuses, details)`` of a run's tasks, ready for ``DagView.set_status``."""
    statuses: dict[str, str] = {}
    details: dict[str, dict[str, str]] = {}
    for task in run.tasks:
        statuses[task.task_name] = str(task.status)
        details[task.task_name] = {
            "started": task.started_at.strftime("%H:%M:%S") if task.started_at else "",
            "duration": _duration(task.started_at, task.finished_at),
            "attempt": str(task.attempt) if task.attempt else "",
            "worker": (task.worker_id or "")[:8],
        }
    return statuses, details
