"""The HTTP API over an archived run (migration 0022): the same answers as before it was
archived, and the trigger token that started it still reads it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, Hatchet
from hatchnb.store import history

pytestmark = pytest.mark.integration

JUST_NOW = timedelta(milliseconds=1)


@pytest.fixture(autouse=True)
def no_engine_archive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_ARCHIVE_AFTER", "off")


def test_the_http_api_reads_an_archived_run_and_its_token_still_owns_it(
    hatchet: Hatchet, start_worker: Callable[..., Any], client_for: Callable[..., Any]
) -> None:
    @hatchet.task(name="noop")
    def noop(input: EmptyModel, ctx: Context) -> dict[str, int]:
        ctx.log("over http")
        return {"n": 1}

    start_worker(noop)
    trigger, reader = client_for("trigger"), client_for("read")
    run_id = trigger.post("/api/v1/workflows/noop/runs", json={"input": {}}).json()["run_id"]
    hatchet.runs.get_run_ref(run_id).result(timeout=15)
    before = (reader.get(f"/api/v1/runs/{run_id}").json(), reader.get("/api/v1/runs").json())
    logs = reader.get(f"/api/v1/runs/{run_id}/logs").json()

    assert history.archive(hatchet.dsn, JUST_NOW).runs == 1

    assert (reader.get(f"/api/v1/runs/{run_id}").json(), reader.get("/api/v1/runs").json()) == (
        before
    )
    assert reader.get(f"/api/v1/runs/{run_id}/logs").json() == logs != []
    assert trigger.get(f"/api/v1/runs/{run_id}").status_code == 200  # still its own run
