"""The notebook's DAG view: the shared ``DagState`` drawn as SVG inside an ``ipywidgets.HTML``.

Why not the dashboard's Bokeh figure: Bokeh/Panel pushes sent from a background thread did
not reach JupyterLab (ipykernel 7), so a Bokeh DAG only caught up once the kernel was free.
An ipywidgets value assigned from any thread is sent at once over the widget's comm, so the
polling thread recolours this view while a cell blocks (e.g. on ``run.result()``). Each
change resends the whole SVG, a few kilobytes for tens of tasks, and only when something
changed. Hovering a node shows its timings (an SVG ``<title>``)."""

from __future__ import annotations

import html
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from hatchnb.widgets.dag import (
    BOX_H,
    BOX_W,
    DETAIL_FIELDS,
    DagState,
    run_parents,
    run_statuses,
    workflow_parents,
)

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.workflow import Workflow

__all__ = ["DagWidget", "render_svg"]

#: pixels per layout unit
SCALE_X, SCALE_Y = 150, 90
MARGIN = 8
LABEL_CHARS = 18


def _pixels(state: DagState) -> tuple[dict[str, tuple[float, float]], float, float]:
    """Node centres in pixels, and the drawing's width and height."""
    xs = [x for x, _ in state.positions.values()] or [0.0]
    ys = [y for _, y in state.positions.values()] or [0.0]
    box_w, box_h = BOX_W * SCALE_X, BOX_H * SCALE_Y
    left, top = min(xs), max(ys)
    centres = {
        n: (
            MARGIN + box_w / 2 + (x - left) * SCALE_X,
            MARGIN + box_h / 2 + (top - y) * SCALE_Y,
        )
        for n, (x, y) in state.positions.items()
    }
    width = 2 * MARGIN + box_w + (max(xs) - left) * SCALE_X
    height = 2 * MARGIN + box_h + (top - min(ys)) * SCALE_Y
    return centres, width, height


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "…"


def _tooltip(node: str, row: Mapping[str, str]) -> str:
    lines = [node, f"status: {row['status']}"]
    lines += [f"{f}: {row[f]}" for f in DETAIL_FIELDS if row[f]]
    if row["extra"]:
        lines.append(row["extra"])
    return "\n".join(lines)


def _node_svg(node: str, row: Mapping[str, str], centre: tuple[float, float]) -> str:
    box_w, box_h = BOX_W * SCALE_X, BOX_H * SCALE_Y
    x, y = centre
    esc = html.escape
    return (
        f'<g class="hatchnb-node" data-task="{esc(node)}" data-status="{esc(row["status"])}">'
        f"<title>{esc(_tooltip(node, row))}</title>"
        f'<rect x="{x - box_w / 2:.1f}" y="{y - box_h / 2:.1f}" width="{box_w:.1f}" '
        f'height="{box_h:.1f}" rx="4" fill="{esc(row["color"])}" stroke="#555555"/>'
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" dominant-baseline="central" '
        f'font-size="11px" font-family="sans-serif">{esc(_label(node))}</text></g>'
    )


def _edge_svg(start: tuple[float, float], end: tuple[float, float]) -> str:
    half = BOX_H * SCALE_Y / 2
    return (
        f'<line x1="{start[0]:.1f}" y1="{start[1] + half:.1f}" x2="{end[0]:.1f}" '
        f'y2="{end[1] - half:.1f}" stroke="#888888" stroke-width="1.5"/>'
    )


def render_svg(state: DagState) -> str:
    """The whole DAG as one ``<svg>``: edges, then one ``<g data-task=...>`` per node."""
    centres, width, height = _pixels(state)
    edges = "".join(_edge_svg(centres[p], centres[c]) for p, c in state.edges())
    nodes = "".join(_node_svg(n, state.rows[n], centres[n]) for n in state.nodes_order)
    return (
        f'<svg class="hatchnb-dag" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" '
        f'height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">{edges}{nodes}</svg>'
    )


class DagWidget:
    """A live DAG for notebooks: display it, then call ``set_status`` from any thread."""

    def __init__(self, parents: Mapping[str, Sequence[str]]) -> None:
        self.state = DagState(parents)
        self._lock = threading.Lock()
        self.widget = w.HTML(value=render_svg(self.state))
        self.widget.add_class("hatchnb-dag-widget")

    @property
    def parents(self) -> dict[str, list[str]]:
        return self.state.parents

    @classmethod
    def from_workflow(cls, workflow: Workflow[Any]) -> DagWidget:
        """The DAG of a declared workflow (all nodes PENDING)."""
        return cls(workflow_parents(workflow))

    @classmethod
    def from_run(cls, hatchet: Hatchet, run_id: str) -> DagWidget:
        """The DAG of a run, coloured with its current task statuses."""
        run = hatchet.runs.get(str(run_id), task_events=False)
        view = cls(run_parents(run))
        view.set_status(*run_statuses(run))
        return view

    def statuses(self) -> dict[str, str]:
        with self._lock:
            return self.state.statuses()

    def set_status(
        self,
        statuses: Mapping[str, str],
        details: Mapping[str, Mapping[str, str]] | None = None,
    ) -> bool:
        """Recolour nodes; the SVG is sent only when something changed. Safe from any
        thread (assigning inside the lock keeps a stale drawing from overtaking a newer one)."""
        with self._lock:
            if not self.state.update(statuses, details):
                return False
            self.widget.value = render_svg(self.state)
        return True

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<DagWidget {self.statuses()}>"
