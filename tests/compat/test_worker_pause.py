"""hatchet_sdk's workers.pause / unpause (written from its documented API): a paused worker
claims nothing new, finishes what it runs, and claims again once unpaused."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, HatchnbError, RunStatus
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pausing takes effect at the next heartbeat (request before ``hatchet``)."""
    monkeypatch.setenv("HATCHNB_HEARTBEAT_INTERVAL", "0.2")


def test_a_paused_worker_claims_nothing_until_unpaused(
    fast_heartbeat: None, hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    release = tmp_path / "release"

    @hatchet.task()
    def job(input: EmptyModel, ctx: Context) -> dict[str, int]:
        deadline = time.monotonic() + 30
        while not release.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        return {"n": 1}

    worker = start_worker(job, name="pausable")
    running = job.run_no_wait()
    wait_until(
        lambda: hatchet.runs.get_status(running.workflow_run_id) == RunStatus.RUNNING,
        message="the first run to start",
    )
    assert hatchet.workers.pause(worker.worker_id).status == "PAUSED"
    wait_until(lambda: worker._runtime.link.paused, message="the worker to see its pause")
    waiting = job.run_no_wait()
    release.touch()
    assert running.result(timeout=10) == {"n": 1}  # what it ran finishes
    time.sleep(1.0)
    assert hatchet.runs.get_status(waiting.workflow_run_id) == RunStatus.QUEUED
    assert hatchet.workers.unpause(worker.worker_id).status == "ACTIVE"
    assert waiting.result(timeout=10) == {"n": 1}
    worker.stop(timeout=30)
    with pytest.raises(HatchnbError, match="not running"):
        hatchet.workers.pause(worker.worker_id)
