"""The one DAG drawing (a Bokeh figure), shared by the notebook widgets and the dashboard.

``DagView.set_status`` may be called from any thread: in a ``panel serve`` session the
change is applied on the session's next tick (Bokeh refuses changes from foreign threads
there), in a notebook it is applied at once and pushed over the comm."""

from __future__ import annotations

import asyncio
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
    from hatchnb.runs import WorkflowRun
    from hatchnb.workflow import Workflow

__all__ = ["DETAIL_FIELDS", "STATUS_COLORS", "DagView", "layered_layout", "run_statuses"]

STATUS_COLORS: dict[str, str] = {
    "PENDING": "#d9d9d9",
    "WAITING": "#e4d4f4",
    "QUEUED": "#bdd7ee",
    "RUNNING": "#ffd966",
    "SUCCEEDED": "#a9d18e",
    "FAILED": "#f4b183",
    "CANCELLED": "#a6a6a6",
    "SKIPPED": "#f2f2f2",
}
#: per-node hover fields filled from ``set_status(details=...)``; other keys go to "extra"
DETAIL_FIELDS = ("started", "duration", "attempt", "worker")
_BOX_W, _BOX_H = 0.8, 0.4


class DagView:
    """A layered DAG whose nodes are coloured by status.

    ``parents`` maps each node (task name) to its parents, in declaration order."""

    def __init__(self, parents: Mapping[str, Sequence[str]], *, name: str = "dag_nodes") -> None:
        self.parents = {node: list(ps) for node, ps in parents.items()}
        self.nodes_order = list(self.parents)
        self._index = {node: i for i, node in enumerate(self.nodes_order)}
        self._lock = threading.Lock()
        self._rows = {n: self._empty_row() for n in self.nodes_order}
        self._pane: pn.pane.Bokeh | None = None
        #: the kernel's event loop, when the view is shown in a notebook
        self._loop: asyncio.AbstractEventLoop | None = None
        positions = layered_layout(self.parents) if self.parents else {}
        self.nodes = ColumnDataSource(name=name, data=self._initial_data(positions))
        self.figure = self._build_figure(positions)

    # ---- building ---------------------------------------------------------------------

    @staticmethod
    def _empty_row() -> dict[str, str]:
        row = dict.fromkeys((*DETAIL_FIELDS, "extra"), "")
        row.update(status="PENDING", color=STATUS_COLORS["PENDING"])
        return row

    def _initial_data(self, positions: Mapping[str, tuple[float, float]]) -> dict[str, list[Any]]:
        data: dict[str, list[Any]] = {
            "index": list(self.nodes_order),
            "name": list(self.nodes_order),
            "x": [positions[n][0] for n in self.nodes_order],
            "y": [positions[n][1] for n in self.nodes_order],
        }
        for column in self._empty_row():
            data[column] = [self._rows[n][column] for n in self.nodes_order]
        return data

    def _edge_data(self, positions: Mapping[str, tuple[float, float]]) -> dict[str, list[Any]]:
        edges = [(p, c) for c, ps in self.parents.items() for p in ps if p in positions]
        return {
            "start": [p for p, _ in edges],
            "end": [c for _, c in edges],
            "xs": [[positions[p][0], positions[c][0]] for p, c in edges],
            "ys": [[positions[p][1] - _BOX_H / 2, positions[c][1] + _BOX_H / 2] for p, c in edges],
        }

    def _build_figure(self, positions: Mapping[str, tuple[float, float]]) -> Any:
        xs = [x for x, _ in positions.values()] or [0.0]
        ys = [y for _, y in positions.values()] or [0.0]
        graph = GraphRenderer()
        graph.node_renderer.data_source = self.nodes
        graph.node_renderer.glyph = Rect(
            width=_BOX_W, height=_BOX_H, fill_color="color", line_color="#555555"
        )
        graph.edge_renderer.data_source.data = self._edge_data(positions)
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
    def from_workflow(cls, workflow: Workflow, *, name: str = "dag_nodes") -> DagView:
        """The DAG of a declared workflow (all nodes PENDING)."""
        return cls({t.name: [p.name for p in t.parents] for t in workflow.tasks}, name=name)

    @classmethod
    def from_run(cls, hatchet: Hatchet, run_id: str, *, name: str = "dag_nodes") -> DagView:
        """The DAG of a run, coloured with its current task statuses."""
        run = hatchet.runs.get(str(run_id))
        view = cls({t.task_name: list(t.parents) for t in run.tasks if t.kind == "task"}, name=name)
        view.set_status(*run_statuses(run))
        return view

    # ---- display ------------------------------------------------------------------------

    def panel(self) -> pn.pane.Bokeh:
        """The figure in a Panel pane (one per view: a Bokeh model lives in one document)."""
        if self._pane is None:
            import panel as pn

            self._pane = pn.pane.Bokeh(self.figure)
            self._loop = _running_loop()
        return self._pane

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        return self.panel()._repr_mimebundle_(include, exclude)

    # ---- updates --------------------------------------------------------------------------

    def statuses(self) -> dict[str, str]:
        with self._lock:
            return {n: row["status"] for n, row in self._rows.items()}

    def set_status(
        self,
        statuses: Mapping[str, str],
        details: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        """Recolour nodes; only changed cells are sent. Safe from any thread."""
        with self._lock:
            patch = self._diff(statuses, details or {})
        if patch:
            self._schedule(lambda: self._apply(patch))

    def _diff(
        self, statuses: Mapping[str, str], details: Mapping[str, Mapping[str, str]]
    ) -> dict[str, list[tuple[int, str]]]:
        patch: dict[str, list[tuple[int, str]]] = {}
        for node in self.nodes_order:
            wanted = dict(self._rows[node])
            if node in statuses:
                status = str(statuses[node])
                wanted.update(status=status, color=STATUS_COLORS.get(status, "#ffffff"))
            if node in details:
                wanted.update(_detail_columns(details[node]))
            for column, value in wanted.items():
                if value != self._rows[node][column]:
                    patch.setdefault(column, []).append((self._index[node], value))
            self._rows[node] = wanted
        return patch

    def _schedule(self, apply: Any) -> None:
        doc = self.figure.document
        loop = self._loop
        if doc is not None and doc.session_context is not None:
            doc.add_next_tick_callback(apply)  # panel serve: run on the session loop, locked
        elif loop is not None and not loop.is_closed() and _running_loop() is not loop:
            # Jupyter: comm messages Panel sends from other threads never reached JupyterLab
            # (ipykernel 7), so push from the kernel's own loop
            loop.call_soon_threadsafe(apply)
        else:
            apply()

    def _apply(self, patch: dict[str, list[tuple[int, str]]]) -> None:
        self.nodes.patch(patch)
        if self._pane is not None:
            import panel as pn

            pn.io.push_notebook(self._pane)  # a no-op outside a notebook


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


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
