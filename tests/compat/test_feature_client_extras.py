"""The rest of hatchet_sdk 1.37's feature clients (written from its documented API):
``runs.get_result(run_id=)``, the paginated bulk cancel and replay by filters, the metrics
client's task metrics, task stats, queue metrics and Prometheus text, ``rate_limits.list``
with its paging and ordering, ``workflows.get_version``, ``workers.update``,
``event.bulk_push(options=)``, ``hatchet.namespace`` and ``hatchet.current_context``."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from hatchnb import (
    BulkPushEventWithMetadata,
    Context,
    EmptyModel,
    RateLimitDuration,
    RunStatus,
)
from hatchnb.features.events import BulkPushEventOptions
from hatchnb.records import RateLimitOrderByDirection, RateLimitOrderByField
from hatchnb.types import UpdateWorkerRequest
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_bulk_cancel_and_replay_by_filters_go_chunk_by_chunk(hatchet: Any) -> None:
    @hatchet.task(name="idle")
    def idle(input: EmptyModel, ctx: Context) -> None:
        return None

    refs = [idle.run_no_wait() for _ in range(5)]  # no worker: they stay queued
    hatchet.runs.bulk_cancel_by_filters_with_pagination(
        sleep_time=0, chunk_size=2, workflow_ids=[idle.id]
    )
    statuses = {hatchet.runs.get_status(r.workflow_run_id) for r in refs}
    assert statuses == {RunStatus.CANCELLED}
    hatchet.runs.bulk_replay_by_filters_with_pagination(
        sleep_time=0, chunk_size=3, workflow_ids=[idle.id]
    )
    statuses = {hatchet.runs.get_status(r.workflow_run_id) for r in refs}
    assert RunStatus.CANCELLED not in statuses  # replayed: their tasks are queued again


def test_metrics_client_counts_tasks_and_scrapes(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="measured")

    @wf.task()
    def first(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"seen": hatchet.current_context is ctx}

    @wf.task(parents=[first])
    def second(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(name="waiting")
    def waiting(input: EmptyModel, ctx: Context) -> None:
        return None

    worker = start_worker(wf)
    assert wf.run()["first"] == {"seen": True}
    wf.run()
    waiting.run_no_wait()  # no worker serves it
    assert hatchet.current_context is None
    metrics = hatchet.metrics.get_task_metrics()
    assert (metrics.completed, metrics.queued, metrics.failed) == (4, 1, 0)
    assert hatchet.metrics.get_task_metrics(workflow_ids=[wf.id]).queued == 0
    stats = hatchet.metrics.get_task_stats()
    assert stats["waiting"].queued is not None and stats["waiting"].queued.total == 1
    assert hatchet.metrics.get_queue_metrics() == {"waiting": 1}
    assert "hatchnb_queue_depth" in hatchet.metrics.scrape_tenant_prometheus_metrics()
    assert asyncio.run(hatchet.metrics.aio_get_task_metrics()) == metrics

    paused = hatchet.workers.update(worker.worker_id, UpdateWorkerRequest(is_paused=True))
    assert paused.status == "PAUSED"
    wait_until(
        lambda: hatchet.workers.get(worker.worker_id).status == "PAUSED",
        message="the worker to show PAUSED",
    )
    resumed = hatchet.workers.update(worker.worker_id, UpdateWorkerRequest(is_paused=False))
    assert resumed.status == "ACTIVE"


def test_rate_limits_list_pages_searches_and_orders(hatchet: Any) -> None:
    hatchet.rate_limits.put("api-a", 10, RateLimitDuration.MINUTE)
    hatchet.rate_limits.put("api-b", 5, RateLimitDuration.MINUTE)
    hatchet.rate_limits.put("other", 7, RateLimitDuration.MINUTE)
    listed = hatchet.rate_limits.list(search="api")
    assert [r.key for r in listed.rows] == ["api-a", "api-b"]
    assert [(r.limit_value, r.value, r.window) for r in listed.rows] == [
        (10, 10, "MINUTE"),
        (5, 5, "MINUTE"),
    ]
    by_limit = hatchet.rate_limits.list(
        order_by_field=RateLimitOrderByField.LIMITVALUE,
        order_by_direction=RateLimitOrderByDirection.DESC,
        limit=2,
    )
    assert [r.key for r in by_limit.rows] == ["api-a", "other"]
    assert [r.key for r in hatchet.rate_limits.list(offset=2).rows] == ["other"]
    with pytest.raises(ValueError, match="order_by_field"):
        hatchet.rate_limits.list(order_by_field="used")


def test_versions_results_and_namespaced_bulk_push(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(name="versioned", on_events=["other_ping"])
    def versioned(input: EmptyModel, ctx: Context) -> dict[str, int]:
        return {"v": 1}

    start_worker(versioned)
    ref = versioned.run(wait_for_result=False)
    assert hatchet.runs.get_result(run_id=ref.workflow_run_id) == {"versioned": {"v": 1}}
    latest = hatchet.workflows.get_version(versioned.id)
    assert latest.workflow_name == "versioned"
    assert hatchet.workflows.get_version("versioned", str(latest.id)) == latest
    assert hatchet.workflows.get_version(latest.id) == latest  # hatchnb's version id
    with pytest.raises(ValueError, match="version"):
        hatchet.workflows.get_version(versioned.id, "not-a-version")

    assert hatchet.namespace == ""
    [pushed] = hatchet.event.bulk_push(
        [BulkPushEventWithMetadata(key="ping")], options=BulkPushEventOptions(namespace="other_")
    )
    assert pushed.key == "other_ping" and len(pushed.run_ids) == 1
