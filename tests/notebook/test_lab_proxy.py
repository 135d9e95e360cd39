"""The dashboard inside JupyterLab through jupyter-server-proxy (``hatchnb[lab]``): the
launcher tile opens ``<lab>/hatchnb/``, where Jupyter starts ``hatchnb dashboard`` under that
prefix; its pages load their scripts and open their websocket through the proxy and show
the database's runs (Chromium, screenshots in tests/artifacts)."""

from __future__ import annotations

import base64
import http.client
import json
import os
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import CHROMIUM, CHROMIUM_ARGS, wait_until
from tests.notebook.test_jupyterlab import ARTIFACTS, running_lab

pytest.importorskip("jupyter_server_proxy", reason="the [lab] extra is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(300),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM}"),
]

BOKEH_READY_JS = "() => window.Bokeh && Bokeh.documents.length > 0"


def _servers(base: str, token: str) -> list[dict[str, Any]]:
    """The proxied servers jupyter-server-proxy lists (the launcher reads the same list)."""
    request = urllib.request.Request(
        f"{base}/server-proxy/servers-info", headers={"Authorization": f"token {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        listed: list[dict[str, Any]] = json.loads(answer.read())["server_processes"]
    return listed


def _dashboard_port(base: str) -> int:
    """The loopback port of the dashboard this JupyterLab started (its child process)."""
    import psutil  # type: ignore[import-untyped]  # ipykernel's dependency

    lab_port = urllib.parse.urlsplit(base).port
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        command = proc.cmdline()
        if command[1:4] != ["-m", "hatchnb", "dashboard"]:
            continue
        parent = proc.parent()
        if parent is not None and f"--port={lab_port}" in parent.cmdline():
            return int(command[command.index("--port") + 1])
    raise AssertionError("no dashboard process under this JupyterLab")


def _websocket_handshake(port: int, path: str, origin: str) -> int:
    """The HTTP status of a websocket upgrade (101: accepted) sent with ``origin``."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(
            "GET",
            path,
            headers={
                "Upgrade": "websocket",
                "Connection": "Upgrade",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
                "Origin": origin,
            },
        )
        return connection.getresponse().status
    finally:
        connection.close()


def _note_error(errors: list[str], message: Any) -> None:
    if message.type == "error":
        errors.append(f"{message.text} at {message.location.get('url')}")


def test_dashboard_opens_from_the_lab_launcher_through_the_proxy(
    hatchet: Any, start_worker: Callable[..., Any], tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    greet = hatchet.workflow(name="proxied_greeting")

    @greet.task()
    def hello(input: dict[str, Any], ctx: Any) -> dict[str, Any]:
        return {"hello": "lab"}

    start_worker(greet)
    run = greet.run_no_wait({})
    wait_until(lambda: str(run.status()) == "SUCCEEDED", 30, "the seeded run")

    with running_lab(tmp_path) as (base, token), sync_playwright() as p:
        (server,) = [s for s in _servers(base, token) if s["name"] == "hatchnb"]
        assert server["launcher_entry"]["title"] == "hatchnb dashboard"
        assert server["launcher_entry"]["icon_url"]  # the SVG icon is served
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            errors: list[str] = []
            lab = context.new_page()
            lab.goto(f"{base}/lab?token={token}", wait_until="domcontentloaded")
            tile = lab.locator(".jp-LauncherCard", has_text="hatchnb dashboard")
            tile.wait_for(state="visible", timeout=60_000)
            ARTIFACTS.mkdir(exist_ok=True)
            lab.screenshot(path=str(ARTIFACTS / "lab-launcher.png"))
            with context.expect_page(timeout=30_000) as opened:
                tile.click()
            dash = opened.value
            dash.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            dash.on("console", lambda m: _note_error(errors, m))
            # Jupyter starts the dashboard on the first request (it may take a few seconds)
            dash.wait_for_function(BOKEH_READY_JS, timeout=90_000)
            assert dash.url.startswith(f"{base}/hatchnb/")
            dash.get_by_text(run.workflow_run_id).first.wait_for(state="visible", timeout=20_000)
            dash.screenshot(path=str(ARTIFACTS / "lab-proxy-runs.png"), full_page=True)
            # another page through the same proxy, its links relative to the prefix
            dash.goto(f"{base}/hatchnb/?page=run&id={run.workflow_run_id}")
            dash.wait_for_function(BOKEH_READY_JS, timeout=30_000)
            dash.get_by_text('"hello"').first.wait_for(state="visible", timeout=20_000)
            dash.screenshot(path=str(ARTIFACTS / "lab-proxy-run.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
        # the dashboard's own websocket, reached directly: only its own origin opens it
        port = _dashboard_port(base)
        assert _websocket_handshake(port, "/hatchnb/ws", "http://evil.example") == 403
        assert _websocket_handshake(port, "/hatchnb/ws", f"http://127.0.0.1:{port}") == 101
