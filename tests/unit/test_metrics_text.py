"""``hatchet.metrics``' figures and their Prometheus text, over fake reads (no database)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from hatchnb.config import Settings
from hatchnb.features import metrics
from hatchnb.features.metrics import Histogram, MetricsClient


class FakeReads:
    def __init__(self, latency_rows: list[dict[str, Any]] | None = None) -> None:
        self.latency_rows = latency_rows or []
        self.bounds: list[float] = []

    def queue_depth(self) -> list[dict[str, Any]]:
        return [{"workflow_name": "etl", "ready": 2, "delayed": 1}]

    def task_status_counts(self) -> dict[str, int]:
        return {"SUCCEEDED": 5, "FAILED": 1}

    def queue_latency_histogram(self, since: Any, bounds: list[float]) -> list[dict[str, Any]]:
        self.bounds = bounds
        return self.latency_rows


def _client(reads: FakeReads) -> MetricsClient:
    client = MetricsClient.__new__(MetricsClient)  # no store: the reads are the fake's
    client._settings = Settings(dsn=None)
    client._reads = reads  # type: ignore[assignment]
    return client


@pytest.mark.parametrize(("value", "text"), [(1, "1.0"), (0.25, "0.25"), (60, "60.0")])
def test_bounds_are_written_as_floats(value: float, text: str) -> None:
    assert metrics._number(value) == text


def test_label_values_are_escaped() -> None:
    assert metrics._escape('say "hi"\\\n') == 'say \\"hi\\"\\\\\\n'


def test_several_labels_keep_their_order() -> None:
    line = metrics._sample("m", {"a": "1", "b": "2"}, 0)
    assert line == 'm{a="1",b="2"} 0'


def test_a_histogram_with_no_samples_ends_at_zero() -> None:
    hist = Histogram(bounds=(1.0,), counts=(0, 0), total=0, sum_seconds=0.0)
    assert hist.cumulative() == [("1.0", 0), ("+Inf", 0)]


def test_latency_rows_land_in_their_buckets() -> None:
    # width_bucket: 0 below the first bound, i in [bounds[i-1], bounds[i]), n above the last
    rows: list[dict[str, Any]] = [
        {"bucket": 0, "total": 1, "seconds": 0.001},
        {"bucket": 1, "total": 2, "seconds": 0.4},
        {"bucket": 2, "total": 3, "seconds": 3.0},
        {"bucket": 3, "total": 4, "seconds": None},
    ]
    reads = FakeReads(rows)
    hist = _client(reads).latency_histogram(bounds=[0.1, 1])
    assert reads.bounds == [0.1, 1.0]
    assert hist.counts == (3, 3, 4)
    assert hist.total == 10
    assert hist.sum_seconds == pytest.approx(3.401)
    assert hist.cumulative() == [("0.1", 3), ("1.0", 6), ("+Inf", 10)]


def test_queue_depth_by_workflow() -> None:
    assert _client(FakeReads()).queue_depth() == {"etl": {"ready": 2, "delayed": 1}}


def test_prometheus_text_has_every_family_with_help_and_type() -> None:
    text = _client(FakeReads([{"bucket": 1, "total": 2, "seconds": 0.5}])).prometheus_text(
        timedelta(minutes=5)
    )
    lines = text.splitlines()
    assert text.endswith("\n")
    assert "# TYPE hatchnb_queue_depth gauge" in lines
    assert 'hatchnb_queue_depth{workflow="etl"} 2' in lines
    assert 'hatchnb_queue_delayed{workflow="etl"} 1' in lines
    assert "# TYPE hatchnb_queue_to_start_seconds histogram" in lines
    assert (
        "# HELP hatchnb_queue_to_start_seconds Queue-to-start latency of task attempts "
        "finished in the last 0:05:00" in lines
    )
    assert 'hatchnb_queue_to_start_seconds_bucket{le="+Inf"} 2' in lines
    assert "hatchnb_queue_to_start_seconds_sum 0.5" in lines
    assert "hatchnb_queue_to_start_seconds_count 2" in lines


def test_task_run_counts_are_sorted_by_status() -> None:
    lines = _client(FakeReads()).prometheus_text().splitlines()
    counts = [line for line in lines if line.startswith("hatchnb_task_runs{")]
    assert counts == [
        'hatchnb_task_runs{status="FAILED"} 1',
        'hatchnb_task_runs{status="SUCCEEDED"} 5',
    ]


def test_every_sample_belongs_to_a_declared_family() -> None:
    lines = _client(FakeReads()).prometheus_text().splitlines()
    families = {line.split()[2] for line in lines if line.startswith("# TYPE")}
    for line in lines:
        if not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            assert name in families or name.rsplit("_", 1)[0] in families, line
