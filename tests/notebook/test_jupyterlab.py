"""End to end in a real JupyterLab (Playwright + headless Chromium): the DAG widget changes
colour while another cell blocks on ``run.result()``, and the quickstart notebook ends green.

The live test's tasks wait for flag files the test creates, so each step happens only when
the test has seen the previous one in the page: no fixed sleeps, and a view that updates only
once the kernel is free fails (its blocking cell would still be running)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest

from hatchnb.widgets.dag import STATUS_COLORS
from tests.conftest import CHROMIUM, CHROMIUM_ARGS, wait_until

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(420),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}"),
]

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
PENDING, RUNNING, SUCCEEDED = (STATUS_COLORS[s] for s in ("PENDING", "RUNNING", "SUCCEEDED"))
#: the fills of each DAG drawn in the page, in page order
DRAWN_JS = """() => Array.from(document.querySelectorAll('svg.hatchnb-dag')).map(
    svg => Array.from(svg.querySelectorAll('g.hatchnb-node rect')).map(
        r => r.getAttribute('fill')))"""
#: every DAG node in the page, as [task, fill]
NODES_JS = """() => Array.from(document.querySelectorAll('g.hatchnb-node')).map(
    g => [g.dataset.task, g.querySelector('rect').getAttribute('fill')])"""
#: the kernel's state, prompt, output text and widget labels of every code cell, and each
#: DAG node's fill
PAGE_JS = """() => {
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const cells = Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell')).map(c => ({
    prompt: c.querySelector('.jp-InputArea-prompt').textContent.trim(),
    outputs: c.querySelectorAll('.jp-OutputArea-output').length,
    text: Array.from(c.querySelectorAll('.jp-OutputArea-output')).map(o => o.innerText).join(''),
    labels: Array.from(c.querySelectorAll('.widget-label')).map(l => l.textContent.trim()),
  }));
  const fills = Object.fromEntries(Array.from(document.querySelectorAll('g.hatchnb-node')).map(
    g => [g.dataset.task, g.querySelector('rect').getAttribute('fill')]));
  return {kernel: indicator ? indicator.dataset.status : null, cells, fills};
}"""

#: the kernel's state and the first code cell's prompt
FIRST_CELL_JS = """() => {
  const indicator = document.querySelector('.jp-Notebook-ExecutionIndicator');
  const first = document.querySelector('.jp-CodeCell .jp-InputArea-prompt');
  return {kernel: indicator ? indicator.dataset.status : null,
          prompt: first ? first.textContent.trim() : ''};
}"""

LIVE_CELLS = [
    """import pathlib, time
from hatchnb import Context, EmptyModel, Hatchet

FLAGS = pathlib.Path({flags!r})


def wait_for_flag(name: str) -> None:
    deadline = time.monotonic() + 150
    while not (FLAGS / name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)


hatchet = Hatchet()
chain = hatchet.workflow(name="lab_live_chain")


@chain.task()
def first(input: EmptyModel, ctx: Context) -> dict:
    wait_for_flag("first")
    return {{"n": 1}}


@chain.task(parents=[first])
def second(input: EmptyModel, ctx: Context) -> dict:
    wait_for_flag("second")
    return {{"n": 2}}


@chain.task(parents=[second])
def third(input: EmptyModel, ctx: Context) -> dict:
    wait_for_flag("third")
    return {{"n": 3}}


worker = hatchet.worker("lab-live", slots=4, workflows=[chain])
worker.start()  # in a kernel: its own thread and event loop""",
    "run = chain.run_no_wait()\nrun",
    'result = run.result(timeout=200)\nprint("result:", result["third"])',
]


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


@contextlib.contextmanager
def running_lab(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A JupyterLab server on ``tmp_path/root``: its base URL and token."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    port, token = _free_port(), uuid.uuid4().hex
    env_dirs = {n: tmp_path / n for n in ("config", "runtime")}
    for folder in env_dirs.values():
        folder.mkdir(exist_ok=True)
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
        yield f"http://127.0.0.1:{port}", token
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


@pytest.fixture
def lab(dsn: str, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """A JupyterLab server on ``tmp_path/root``; gives the URL of a notebook in it."""
    with running_lab(tmp_path) as (base, token):
        yield lambda name: f"{base}/lab/tree/{name}?token={token}"


@pytest.fixture
def browser_page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1280, "height": 1600})
        finally:
            browser.close()


def _shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _open_and_run_all(page: Any, url: str) -> None:
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("text=Kernel status: Idle", state="attached", timeout=60_000)
    _run_all_cells(page)


def _run_all_cells(page: Any) -> None:
    """Run > Run All Cells, and make sure the first code cell ran. Under load Lab may ask for a
    kernel (its kernelspecs were not fetched yet), or start two at once and drop one, losing
    the cells queued on it: then restart the kernel and run all cells again."""
    for attempt in range(4):
        _settle_kernel(page)
        if attempt == 0:
            _menu(page, "Run", "Run All Cells")
        else:
            _menu(page, "Kernel", "Restart Kernel and Run All Cells")
            confirm = page.locator(".jp-Dialog button.jp-mod-accept")
            if confirm.count():
                confirm.first.click(timeout=10_000)
        if _first_cell_ran(page):
            return
    raise AssertionError("Run All Cells did not run the notebook's first code cell")


def _settle_kernel(page: Any) -> None:
    """Accept Lab's Select Kernel dialog if it is open, then wait for an idle kernel."""
    dialog = page.locator(".jp-Dialog", has_text="Select Kernel")
    if dialog.count():
        dialog.locator("button.jp-mod-accept").click(timeout=10_000)
    page.wait_for_selector("text=Kernel status: Idle", state="attached", timeout=60_000)


def _menu(page: Any, menu: str, item: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click(timeout=10_000)
        page.locator(".lm-Menu-itemLabel", has_text=item).first.click(timeout=10_000)
    except PlaywrightTimeout:  # a dialog opened in between: close the menus
        page.keyboard.press("Escape")


def _first_cell_ran(page: Any) -> bool:
    """The first code cell finished ([n]). While the kernel is busy it may only be slow (cold
    imports on a loaded machine); a cell still waiting after the kernel has been idle for
    10 s was queued on a kernel Lab replaced."""
    deadline = time.monotonic() + 180
    idle_since: float | None = None
    while time.monotonic() < deadline:
        state = page.evaluate(FIRST_CELL_JS)
        if re.fullmatch(r"\[\d+\]:?", state["prompt"]):
            return True
        if state["kernel"] != "idle":
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since > 10:
            return False
        time.sleep(0.2)
    return False


class LivePage:
    """Reads the live notebook's page; ``cells[2]`` is the cell blocking on ``run.result()``."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.seen: list[dict[str, Any]] = []  # every distinct state, for failure messages

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate(PAGE_JS)
        if not self.seen or self.seen[-1] != state:
            self.seen.append(state)
        return state

    def blocked_with(self, **fills: str) -> bool:
        """The run's cell has finished, the kernel is busy with the ``result()`` cell (which
        has no output yet), and the DAG nodes have these fills."""
        state = self.state()
        cells = state["cells"]
        if len(cells) < 3 or not cells[1]["prompt"][1:-2].isdigit():
            return False
        busy = state["kernel"] == "busy" and cells[2]["prompt"] == "[*]:"
        busy = busy and cells[2]["outputs"] == 0
        return busy and all(state["fills"].get(t) == f for t, f in fills.items())

    def wait_blocked_with(self, timeout: float = 90, **fills: str) -> None:
        try:
            wait_until(lambda: self.blocked_with(**fills), timeout, "the states")
        except AssertionError:
            raise AssertionError(
                f"{fills} never seen while the result() cell blocks; last states: {self.seen[-3:]}"
            ) from None

    def progress(self) -> list[str]:
        return [label for c in self.state()["cells"] for label in c["labels"] if "/" in label]


def test_dag_changes_colour_while_a_cell_blocks_on_the_result(
    lab: Callable[[str], str], browser_page: Any, tmp_path: Path
) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    nb = nbformat.v4.new_notebook(
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    )
    source = [LIVE_CELLS[0].format(flags=str(flags)), *LIVE_CELLS[1:]]
    nb.cells = [nbformat.v4.new_code_cell(code) for code in source]
    nbformat.write(nb, tmp_path / "root" / "live_dag.ipynb")

    page = browser_page
    live = LivePage(page)
    try:
        _open_and_run_all(page, lab("live_dag.ipynb"))
        live.wait_blocked_with(first=RUNNING, second=PENDING, third=PENDING)
        (flags / "first").touch()
        live.wait_blocked_with(first=SUCCEEDED, second=RUNNING, third=PENDING)
        _shot(page, "jupyterlab_live_dag_running.png")
        (flags / "second").touch()
        live.wait_blocked_with(first=SUCCEEDED, second=SUCCEEDED, third=RUNNING)
        # the progress bar of the same run widget moved too
        wait_until(lambda: "2/3" in live.progress(), 30, f"2/3 in {live.progress()}")
        assert live.blocked_with(third=RUNNING)
        (flags / "third").touch()
        wait_until(
            lambda: "result: {'n': 3}" in live.state()["cells"][2]["text"],
            90,
            f"the result() cell to finish; last states: {live.seen[-3:]}",
        )
        wait_until(
            lambda: set(live.state()["fills"].values()) == {SUCCEEDED}, 30, "all nodes green"
        )
        # hovering a node shows its timings (the SVG <title>)
        hover = page.locator("g.hatchnb-node[data-task=second] title").text_content()
        assert "status: SUCCEEDED" in hover and "duration: " in hover and "started: " in hover
    finally:
        _shot(page, "jupyterlab_live_dag.png")


def test_quickstart_dag_turns_green_in_jupyterlab(
    lab: Callable[[str], str], browser_page: Any, tmp_path: Path
) -> None:
    shutil.copy(ROOT / "notebooks" / "01_quickstart.ipynb", tmp_path / "root")
    page = browser_page
    try:
        _open_and_run_all(page, lab("01_quickstart.ipynb"))
        # three DAGs: the workflow (never run: all PENDING) and two displays of the run,
        # the first shown while it ran and recoloured by the polling thread
        page.wait_for_function(
            f"""() => {{
                const drawn = ({DRAWN_JS})();
                const all = (fills, colour) => fills.length === 4
                                              && fills.every(f => f === colour);
                return drawn.length === 3 && all(drawn[0], '{PENDING}')
                       && all(drawn[1], '{SUCCEEDED}') && all(drawn[2], '{SUCCEEDED}');
            }}""",
            timeout=150_000,
        )
        nodes = page.evaluate(NODES_JS)
    finally:
        _shot(page, "jupyterlab_quickstart.png")
    assert [task for task, _ in nodes[:4]] == ["extract", "clean", "validate", "report"]
