"""Metrics: throughput, queue depth, queue-to-start latency histogram, failures over time."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.plotting import figure

from hatchnb.dashboard import common

WINDOW = timedelta(hours=1)
BUCKET = timedelta(minutes=1)
DEPTH_POINTS = 600


def per_bucket(rows: list[dict[str, Any]], now: datetime) -> dict[str, list[Any]]:
    """Succeeded and failed attempts per minute over the window, with every minute present:
    a minute without attempts is a zero, so the line drops to the axis instead of drawing
    a straight line across the gap. Times are naive UTC (Bokeh's datetime axis)."""
    ok: dict[datetime, int] = defaultdict(int)
    failed: dict[datetime, int] = defaultdict(int)
    for row in rows:
        at = _naive_utc(row["bucket"])
        if row["outcome"] == "SUCCEEDED":
            ok[at] += int(row["total"])
        elif row["outcome"] == "FAILED":
            failed[at] += int(row["total"])
    last = _naive_utc(now).replace(second=0, microsecond=0)
    grid = {last - BUCKET * i for i in range(int(WINDOW / BUCKET) + 1)}
    times = sorted(grid | set(ok) | set(failed))
    return {"t": times, "succeeded": [ok[t] for t in times], "failed": [failed[t] for t in times]}


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _plot(title: str, **options: Any) -> Any:
    return figure(
        title=title, height=240, sizing_mode="stretch_width", toolbar_location=None, **options
    )


class MetricsPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        self.throughput = ColumnDataSource(
            name="throughput", data={"t": [], "succeeded": [], "failed": []}
        )
        self.depth = ColumnDataSource(name="queue_depth", data={"t": [], "depth": []})
        self.latency = ColumnDataSource(name="latency", data={"bucket": [], "count": []})
        self.summary = pn.pane.HTML("", name="metrics_summary")

    def figures(self) -> list[Any]:
        done = _plot("Finished task attempts per minute", x_axis_type="datetime")
        done.line("t", "succeeded", source=self.throughput, color="#2e7d32", legend_label="ok")
        done.legend.location = "top_left"  # the newest minutes are on the right
        failures = _plot("Failures per minute", x_axis_type="datetime")
        failures.vbar(x="t", top="failed", width=50_000, source=self.throughput, color="#d9534f")
        depth = _plot("Task runs waiting to start (last hour, then live)", x_axis_type="datetime")
        depth.step("t", "depth", source=self.depth, color="#2e6da4")
        labels = [f"≤{b:g}s" for b in self._bounds()] + ["more"]
        latency = _plot("Queue-to-start latency (last hour)", x_range=labels)
        latency.vbar(x="bucket", top="count", width=0.8, source=self.latency, color="#8e6c8a")
        return [done, failures, depth, latency]

    @staticmethod
    def _bounds() -> tuple[float, ...]:
        from hatchnb.features.metrics import LATENCY_BOUNDS

        return LATENCY_BOUNDS

    def view(self) -> pn.viewable.Viewable:
        plots = self.figures()
        self._depth_history()
        self.refresh()
        common.every(1000, self.refresh)
        panes = [pn.pane.Bokeh(p, sizing_mode="stretch_width") for p in plots]
        return pn.Column(
            "## Metrics",
            self.summary,
            pn.Row(panes[0], panes[1], sizing_mode="stretch_width"),
            pn.Row(panes[2], panes[3], sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )

    def _depth_history(self) -> None:
        """The chart opens with the last hour, rebuilt per minute from the database."""
        history = self.hatchet.metrics.queue_depth_history(WINDOW, BUCKET)
        self.depth.data = {
            "t": [_naive_utc(at) for at, _ in history],
            "depth": [n for _, n in history],
        }

    def refresh(self) -> None:
        metrics = self.hatchet.metrics
        depth = metrics.queue_depth()
        ready = sum(d["ready"] for d in depth.values())
        waiting = sum(d["ready"] + d["delayed"] for d in depth.values())
        now = _naive_utc(datetime.now(UTC))
        self.depth.stream({"t": [now], "depth": [waiting]}, rollover=DEPTH_POINTS)
        data = per_bucket(metrics.throughput(WINDOW, BUCKET), datetime.now(UTC))
        if data != dict(self.throughput.data):
            self.throughput.data = data
        hist = metrics.latency_histogram(WINDOW)
        labels = [f"≤{b:g}s" for b in hist.bounds] + ["more"]
        latency = {"bucket": labels, "count": list(hist.counts)}
        if latency != dict(self.latency.data):
            self.latency.data = latency
        counts = metrics.task_counts()
        text = f"queued now: <b>{ready}</b> · " + " ".join(
            common.badge(s, n) for s, n in sorted(counts.items())
        )
        if self.summary.object != text:
            self.summary.object = text


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return MetricsPage(config).view()
