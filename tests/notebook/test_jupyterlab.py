"""End to end in a real JupyterLab: run the quickstart and watch the DAG turn green."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(240),
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium"),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SUCCEEDED = "#a9d18e"
#: for every Bokeh document holding a DAG: its node statuses and colours
DAGS_JS = """() => {
  if (!window.Bokeh) { return []; }
  const found = [];
  for (const doc of Bokeh.documents) {
    const m = doc.get_model_by_name('dag_nodes');
    if (m) { found.push({status: Array.from(m.data.status), color: Array.from(m.data.color)}); }
  }
  return found;
}"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True


@pytest.fixture
def lab(dsn: str, tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", root)
    port, token = _free_port(), uuid.uuid4().hex
    env_dirs = {n: tmp_path / n for n in ("config", "runtime")}
    for folder in env_dirs.values():
        folder.mkdir()
    log = (tmp_path / "lab.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--allow-root",
            f"--IdentityProvider.token={token}",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env={
            **os.environ,
            "JUPYTER_CONFIG_DIR": str(env_dirs["config"]),
            "JUPYTER_RUNTIME_DIR": str(env_dirs["runtime"]),
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_until(lambda: _accepts(port), timeout=60, message="jupyter lab to listen")
        yield f"http://127.0.0.1:{port}/lab/tree/01_quickstart.ipynb?token={token}"
    finally:
        for _ in range(2):  # Jupyter asks to confirm the first SIGINT
            proc.send_signal(signal.SIGINT)
            time.sleep(0.3)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


def _run_all_cells(page: Any) -> None:
    """Run > Run All Cells; repeated while the kernel was not ready to take it."""
    for _ in range(6):
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
        if _cells_started(page):
            return
    raise AssertionError("Run All Cells did not start the notebook")


def _cells_started(page: Any) -> bool:
    try:
        page.wait_for_function(
            """() => Array.from(document.querySelectorAll('.jp-InputArea-prompt'))
                     .some(e => /\\[(\\*|\\d+)\\]/.test(e.textContent))""",
            timeout=10_000,
        )
    except Exception:  # playwright's TimeoutError
        return False
    return True


def test_quickstart_dag_turns_green_in_jupyterlab(lab: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1600})
            page.goto(lab, wait_until="domcontentloaded")
            page.wait_for_selector("text=Kernel status: Idle", state="attached", timeout=60_000)
            _run_all_cells(page)
            # the finished run's DAG is drawn all green in the page
            page.wait_for_function(
                f"""() => ({DAGS_JS})().filter(
                    d => d.status.length === 4 && d.status.every(s => s === 'SUCCEEDED')
                ).length >= 1""",
                timeout=150_000,
            )
            dags = page.evaluate(DAGS_JS)
        finally:
            page.screenshot(path=str(ARTIFACTS / "jupyterlab_quickstart.png"), full_page=True)
            browser.close()
    green = [d for d in dags if d["status"] == ["SUCCEEDED"] * 4]
    assert green
    assert all(c == SUCCEEDED for d in green for c in d["color"])
