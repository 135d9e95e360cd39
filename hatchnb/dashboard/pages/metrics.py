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
DEPTH_POINTS = 600


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
        failures = _plot("Failures per minute", x_axis_type="datetime")
        failures.vbar(x="t", top="failed", width=50_000, source=self.throughput, color="#d9534f")
        depth = _plot("Queue depth (since this page opened)", x_axis_type="datetime")
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

    def refresh(self) -> None:
        metrics = self.hatchet.metrics
        depth = metrics.queue_depth()
        ready = sum(d["ready"] for d in depth.values())
        now = datetime.now(UTC).replace(tzinfo=None)
        self.depth.stream({"t": [now], "depth": [ready]}, rollover=DEPTH_POINTS)
        self._throughput(metrics.throughput(WINDOW))
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

    def _throughput(self, rows: list[dict[str, Any]]) -> None:
        ok: dict[datetime, int] = defaultdict(int)
        failed: dict[datetime, int] = defaultdict(int)
        for row in rows:
            at = row["bucket"].astimezone(UTC).replace(tzinfo=None)
            if row["outcome"] == "SUCCEEDED":
                ok[at] += int(row["total"])
            elif row["outcome"] == "FAILED":
                failed[at] += int(row["total"])
        times = sorted(set(ok) | set(failed))
        data = {
            "t": times,
            "succeeded": [ok[t] for t in times],
            "failed": [failed[t] for t in times],
        }
        if data != dict(self.throughput.data):
            self.throughput.data = data


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return MetricsPage(config).view()
