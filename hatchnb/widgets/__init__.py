"""Notebook widgets: the DAG (SVG in notebooks, Bokeh in the dashboard, one shared state),
the run widget and the runs table."""

from __future__ import annotations

from hatchnb.widgets.dag import STATUS_COLORS, DagState, DagView, layered_layout
from hatchnb.widgets.dag_svg import DagWidget

__all__ = ["STATUS_COLORS", "DagState", "DagView", "DagWidget", "layered_layout"]
