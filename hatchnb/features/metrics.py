"""``hatchet.metrics``: queue depth, task counts, throughput, queue-to-start latency, and the
same figures in the Prometheus text format."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from hatchnb import limits
from hatchnb.config import Settings
from hatchnb.records import TaskMetrics, TaskStat, TaskStatusStat
from hatchnb.store import Store
from hatchnb.store.reads import ReadsRepo
from hatchnb.store.replica import reads_store

if TYPE_CHECKING:
    from hatchnb.features.runs import RunsClient

#: upper bounds (seconds) of the queue-to-start latency histogram buckets
LATENCY_BOUNDS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Histogram:
    #: upper bounds of the buckets; ``counts`` has one more entry (above the last bound)
    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: int
    sum_seconds: float

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus buckets, ending with ``+Inf``."""
        pairs, running = [], 0
        for bound, count in zip(self.bounds, self.counts, strict=False):
            running += count
            pairs.append((_number(bound), running))
        return [*pairs, ("+Inf", self.total)]


#: hatchnb's task run statuses as hatchet_sdk's task metrics count them (a skipped task is
#: COMPLETED there; tasks waiting for parents or conditions do not exist yet there)
_METRIC_OF_STATUS = {
    "SUCCEEDED": "completed",
    "SKIPPED": "completed",
    "FAILED": "failed",
    "CANCELLED": "cancelled",
    "QUEUED": "queued",
    "RUNNING": "running",
}


class MetricsClient:
    """``hatchet.metrics``: read-only figures over the whole database."""

    def __init__(self, store: Store, settings: Settings, runs: RunsClient) -> None:
        self._reads = ReadsRepo(reads_store(store))  # the replica's, when there is one
        self._settings = settings
        self._runs = runs

    # ---- hatchet_sdk's names ----------------------------------------------------------

    def get_queue_metrics(self) -> dict[str, Any]:
        """``{workflow: queued task runs}`` (ready and delayed alike)."""
        return {w: d["ready"] + d["delayed"] for w, d in self.queue_depth().items()}

    def get_task_metrics(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        workflow_ids: builtins.list[str] | None = None,
        parent_task_external_id: str | None = None,
        triggering_event_external_id: str | None = None,
    ) -> TaskMetrics:
        """Task runs per status, of the runs created in ``[since, until]`` (by default the
        last day) that the filters select."""
        until = until or datetime.now(UTC)
        where = self._runs.run_query(
            since or until - timedelta(days=1),
            until,
            None,
            None,
            None,
            None,
            workflow_ids=workflow_ids,
            parent_task_external_id=parent_task_external_id,
            triggering_event_external_id=triggering_event_external_id,
        )
        counts: dict[str, int] = {}
        for status, total in self._reads.task_status_counts_of_runs(where).items():
            metric = _METRIC_OF_STATUS.get(status)
            if metric is not None:
                counts[metric] = counts.get(metric, 0) + total
        return TaskMetrics(**counts)

    def get_task_stats(self) -> dict[str, TaskStat]:
        """``{task name: TaskStat(queued, running)}`` of the tasks with such task runs."""
        stats: dict[str, dict[str, TaskStatusStat]] = {}
        for row in self._reads.task_stats():
            stat = TaskStatusStat(total=int(row["total"]), oldest=row["oldest"])
            stats.setdefault(row["task_name"], {})[row["status"].lower()] = stat
        return {task: TaskStat(**by_status) for task, by_status in stats.items()}

    def scrape_tenant_prometheus_metrics(self) -> str:
        """``prometheus_text()`` (what /metrics serves)."""
        return self.prometheus_text()

    async def aio_get_queue_metrics(self) -> dict[str, Any]:
        return await asyncio.to_thread(self.get_queue_metrics)

    async def aio_get_task_metrics(self, *args: Any, **kwargs: Any) -> TaskMetrics:
        return await asyncio.to_thread(self.get_task_metrics, *args, **kwargs)

    async def aio_get_task_stats(self) -> dict[str, TaskStat]:
        return await asyncio.to_thread(self.get_task_stats)

    async def aio_scrape_tenant_prometheus_metrics(self) -> str:
        return await asyncio.to_thread(self.scrape_tenant_prometheus_metrics)

    # ---- hatchnb's figures ------------------------------------------------------------

    def queue_depth(self) -> dict[str, dict[str, int]]:
        """``{workflow: {"ready": n, "delayed": n}}`` of queued task runs."""
        rows = self._reads.queue_depth()
        return {r["workflow_name"]: {"ready": r["ready"], "delayed": r["delayed"]} for r in rows}

    def task_counts(self) -> dict[str, int]:
        """``{status: number of task runs}``."""
        return self._reads.task_status_counts()

    def throughput(
        self, window: timedelta = timedelta(hours=1), bucket: timedelta = timedelta(minutes=1)
    ) -> builtins.list[dict[str, Any]]:
        """Finished task attempts per ``bucket`` over ``window``: ``bucket`` (start time),
        ``outcome`` (SUCCEEDED, FAILED, QUEUED for a retry...) and ``total``."""
        since = datetime.now(UTC) - limits.period(window, "window")
        return self._reads.attempt_throughput(since, limits.period(bucket, "bucket"))

    def queue_depth_history(
        self, window: timedelta = timedelta(hours=1), bucket: timedelta = timedelta(minutes=1)
    ) -> builtins.list[tuple[datetime, int]]:
        """``(moment, task runs waiting to start)`` at the end of each ``bucket`` over
        ``window``, rebuilt from queue and start times (ready and delayed alike)."""
        since = datetime.now(UTC) - limits.period(window, "window")
        rows = self._reads.queue_depth_history(since, limits.period(bucket, "bucket"))
        return [(row["at"], int(row["depth"])) for row in rows]

    def latency_histogram(
        self, window: timedelta = timedelta(hours=1), bounds: Iterable[float] = LATENCY_BOUNDS
    ) -> Histogram:
        """Queue-to-start latency of the task attempts that finished within ``window``."""
        edges = tuple(float(b) for b in bounds)
        since = datetime.now(UTC) - limits.period(window, "window")
        rows = self._reads.queue_latency_histogram(since, list(edges))
        counts = [0] * (len(edges) + 1)
        total, seconds = 0, 0.0
        for row in rows:
            # width_bucket: 0 below the first bound, i for [bounds[i-1], bounds[i]), n above
            counts[max(int(row["bucket"]) - 1, 0) if row["bucket"] else 0] += int(row["total"])
            total += int(row["total"])
            seconds += float(row["seconds"] or 0.0)
        return Histogram(bounds=edges, counts=tuple(counts), total=total, sum_seconds=seconds)

    def prometheus_text(self, window: timedelta = timedelta(minutes=5)) -> str:
        """The metrics in the Prometheus text exposition format (version 0.0.4)."""
        lines: list[str] = []
        depth = self.queue_depth()
        _family(lines, "hatchnb_queue_depth", "gauge", "Queued task runs ready to start")
        lines += [
            _sample("hatchnb_queue_depth", {"workflow": w}, d["ready"]) for w, d in depth.items()
        ]
        _family(lines, "hatchnb_queue_delayed", "gauge", "Queued task runs waiting for a delay")
        lines += [
            _sample("hatchnb_queue_delayed", {"workflow": w}, d["delayed"])
            for w, d in depth.items()
        ]
        _family(lines, "hatchnb_task_runs", "gauge", "Task runs by status")
        lines += [
            _sample("hatchnb_task_runs", {"status": s}, n)
            for s, n in sorted(self.task_counts().items())
        ]
        hist = self.latency_histogram(window)
        name = "hatchnb_queue_to_start_seconds"
        help_text = f"Queue-to-start latency of task attempts finished in the last {window}"
        _family(lines, name, "histogram", help_text)
        lines += [_sample(f"{name}_bucket", {"le": le}, n) for le, n in hist.cumulative()]
        lines.append(_sample(f"{name}_sum", {}, hist.sum_seconds))
        lines.append(_sample(f"{name}_count", {}, hist.total))
        return "\n".join(lines) + "\n"


def _family(lines: list[str], name: str, kind: str, help_text: str) -> None:
    lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    return repr(float(value)) if value != int(value) else f"{int(value)}.0"


def _sample(name: str, labels: dict[str, str], value: float) -> str:
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    text = _number(value) if isinstance(value, float) else str(value)
    return f"{name}{{{inner}}} {text}" if inner else f"{name} {text}"
