"""Notebook widgets: the shared DAG view, the run widget and the runs table."""

from __future__ import annotations

from hatchnb.widgets.dag import STATUS_COLORS, DagView, layered_layout

__all__ = ["STATUS_COLORS", "DagView", "layered_layout"]
