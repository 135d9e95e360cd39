"""Every notebook in notebooks/ runs top to bottom in a real kernel (nbclient)."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute(path: Path, timeout: int = 240) -> Any:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        store_widget_state=True,
    )
    client.execute()
    return nb


def widget_states(nb: Any) -> list[dict[str, Any]]:
    saved = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return [m["state"] for m in saved.values()]


def text_of(nb: Any) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
            parts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(parts)


def progress_bars(nb: Any) -> list[dict[str, Any]]:
    return [s for s in widget_states(nb) if s.get("_model_name") == "IntProgressModel"]


def dag_statuses(nb: Any) -> list[dict[str, str]]:
    """``{task: status}`` of every saved DAG widget (an SVG in an ipywidgets.HTML)."""
    found = []
    for state in widget_states(nb):
        value = str(state.get("value", ""))
        if state.get("_model_name") == "HTMLModel" and 'class="hatchnb-dag"' in value:
            found.append(dict(re.findall(r'data-task="([^"]*)" data-status="([^"]*)"', value)))
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_top_to_bottom(path: Path, dsn: str) -> None:
    nb = execute(path)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors
    text = text_of(nb)
    if path.name.startswith("01"):
        bars = progress_bars(nb)
        assert bars, "the run widget's progress bar was not saved"
        assert any(b["value"] == b["max"] == 4 and b["description"] == "4/4" for b in bars)
        assert any(b["bar_style"] == "success" for b in bars)
        tasks = ["extract", "clean", "validate", "report"]
        dags = dag_statuses(nb)
        # the workflow cell, then the run shown while running and once finished
        pending, done = dict.fromkeys(tasks, "PENDING"), dict.fromkeys(tasks, "SUCCEEDED")
        assert dags == [pending, done, done]
        assert "{'doubled': 90}" in text and "square" in text
    if path.name.startswith("04"):
        assert "True True" in text  # the executed notebook rendered as HTML
        assert "['scale', 'title', 'fail'] 10" in text  # the form from the parameters cell
    if path.name.startswith("05"):
        assert "ran in process" in text
    if "batch_embeddings" in path.name:
        assert "48 requests" in text and "flushed after" in text
    if "fork_and_diff" in path.name:
        assert "(reused: load_data)" in text  # the fork magic says what it reused
        assert "* summary: code changed" in text and "~ $.mean: 29.8 -> 8.0" in text
        assert "forked from" in text  # the fork's run widget shows its lineage
        assert "cron nightly-sales created (0 6 * * *)" in text  # scheduled from the form


def test_quickstart_on_the_embedded_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HATCHNB_DATABASE_URL", raising=False)
    monkeypatch.setenv("HATCHNB_HOME", str(tmp_path / "home"))
    try:
        nb = execute(ROOT / "notebooks" / "01_quickstart.ipynb")
        assert any(b["value"] == 4 for b in progress_bars(nb))
        assert f"embedded PostgreSQL in {tmp_path / 'home' / 'pgdata'}" in text_of(nb)
    finally:
        pidfile = tmp_path / "home" / "pgdata" / "postmaster.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
