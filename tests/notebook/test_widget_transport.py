"""In a real kernel, DAG widget updates made on a background thread leave the kernel while a
cell is still blocking: the front end would see them before the cell ends.

The cell blocks until this test has received the SUCCEEDED drawing, so the test fails (the
cell times out instead) if updates were held back until the kernel is free."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import KernelManager, start_new_kernel

pytestmark = pytest.mark.timeout(120)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
SHOW = """
from hatchnb.widgets.dag_svg import DagWidget
view = DagWidget({"a": [], "b": ["a"]})
view
"""
BLOCK = """
import pathlib, threading, time

def recolour():
    view.set_status({{"a": "RUNNING"}})
    view.set_status({{"a": "SUCCEEDED", "b": "RUNNING"}})

threading.Thread(target=recolour).start()
release, deadline = pathlib.Path({flag!r}), time.monotonic() + 30
while not release.exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("released" if release.exists() else "never released")
"""


@pytest.fixture
def kernel() -> Iterator[Any]:
    manager: KernelManager
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _run(client: Any, code: str) -> tuple[str, list[dict[str, Any]]]:
    """Send a cell; returns its message id and the iopub messages until it went busy."""
    msg_id = client.execute(code)
    return msg_id, _iopub_until(client, msg_id, lambda m: _is_status(m, msg_id, "busy"))


def _is_status(msg: dict[str, Any], msg_id: str, state: str) -> bool:
    return bool(
        msg["msg_type"] == "status"
        and msg["parent_header"].get("msg_id") == msg_id
        and msg["content"]["execution_state"] == state
    )


def _iopub_until(client: Any, msg_id: str, done: Any, timeout: float = 60) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        msg = client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
        seen.append(msg)
        if done(msg):
            return seen
        if _is_status(msg, msg_id, "idle") and not done(msg):
            raise AssertionError(f"the cell ended first: {[m['msg_type'] for m in seen]}")
    raise AssertionError("no such message in time")


def _drawing(msg: dict[str, Any], model_id: str) -> str:
    """The SVG sent by a widget ``update`` message of ``model_id`` ("" for other messages)."""
    if msg["msg_type"] != "comm_msg" or msg["content"]["comm_id"] != model_id:
        return ""
    data = msg["content"]["data"]
    return str(data.get("state", {}).get("value", "")) if data.get("method") == "update" else ""


def test_thread_updates_leave_the_kernel_while_a_cell_blocks(kernel: Any, tmp_path: Path) -> None:
    msg_id, _ = _run(kernel, SHOW)
    shown = _iopub_until(kernel, msg_id, lambda m: m["msg_type"] == "execute_result")
    model_id = shown[-1]["content"]["data"][WIDGET_VIEW]["model_id"]
    _iopub_until(kernel, msg_id, lambda m: _is_status(m, msg_id, "idle"))

    flag = tmp_path / "release"
    msg_id, _ = _run(kernel, BLOCK.format(flag=str(flag)))
    running = 'data-task="a" data-status="RUNNING"'
    succeeded = 'data-task="a" data-status="SUCCEEDED"'
    _iopub_until(kernel, msg_id, lambda m: running in _drawing(m, model_id))
    _iopub_until(kernel, msg_id, lambda m: succeeded in _drawing(m, model_id))
    flag.touch()  # only now may the cell end
    rest = _iopub_until(kernel, msg_id, lambda m: _is_status(m, msg_id, "idle"))
    printed = "".join(m["content"].get("text", "") for m in rest if m["msg_type"] == "stream")
    assert printed == "released\n"
