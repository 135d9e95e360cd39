"""schemathesis against the real server, from its own OpenAPI document: every check (no
500s, responses as documented, schema-valid requests accepted and invalid ones refused),
examples, coverage, fuzzing and stateful phases, under a time budget.

The SSE stream is left out: on a run that never finishes (no worker here) it would
stream until the time budget is spent; tests/api/test_worker_over_http.py covers it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import Context
from hatchnb.api import AuthMode
from hatchnb.api.serve import start_api

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent
#: the fuzzing budget in seconds (the whole test stays under about a minute)
BUDGET = 40


class Parcel(BaseModel):
    weight: int


def _st() -> str:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("schemathesis is not installed (pip install 'hatchnb[dev]')")
    return found


@pytest.mark.timeout(BUDGET + 60)
def test_schemathesis_finds_no_failure(hatchet: Any, tmp_path: Path) -> None:
    @hatchet.task(name="weigh", input_validator=Parcel, on_events=["parcel"])
    def weigh(parcel: Parcel, ctx: Context) -> dict[str, Any]:
        return {"grams": parcel.weight}

    hatchet.register(weigh)
    secret, _ = hatchet.tokens.create("fuzz", "admin")
    # the "ignored auth" check sends bad tokens on purpose: no throttling here
    api = start_api(hatchet, auth=AuthMode(failures_per_address=10**9))
    report = tmp_path / "report.json"
    try:
        done = subprocess.run(
            [
                _st(),
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                f"{api.url}/api/openapi.json",
                "--header",
                f"Authorization: Bearer {secret}",
                "--exclude-path",
                "/api/v1/runs/{run_id}/stream",
                "--max-time",
                str(BUDGET),
                "--seed",
                "1",
                "--workers",
                "1",
                # PostgreSQL cannot store NUL in text: refused with a 422 (test_endpoints)
                "--generation-allow-x00",
                "false",
                "--no-color",
                "--report",
                "json",
                "--report-json-path",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=BUDGET + 45,
            cwd=tmp_path,
        )
    finally:
        api.stop()
    summary = json.loads(report.read_text())
    cases = summary["test_cases"]
    print(f"schemathesis: {cases['generated']} cases, {cases['with_failures']} with failures")
    assert summary["operations"]["tested"] == summary["operations"]["selected"] >= 29
    assert summary["failures"] == [] and summary["errors"] == [], done.stdout[-8000:]
    assert cases["generated"] > 500
