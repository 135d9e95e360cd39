"""Run the API with uvicorn: ``hatchnb api`` (alone) and ``hatchnb server`` (with the
dashboard beside it in the same process, on its own port). ``start_api`` runs it on a
background thread (tests, notebooks)."""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import APIRouter

from hatchnb.api.app import create_app
from hatchnb.api.auth import AuthMode

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


def _config(
    hatchet: Hatchet,
    address: str,
    port: int,
    auth: AuthMode,
    own_auth_routers: Sequence[APIRouter] = (),
) -> uvicorn.Config:
    auth.check_address(address)
    app = create_app(hatchet, auth=auth, own_auth_routers=own_auth_routers)
    return uvicorn.Config(
        app, host=address, port=port, log_level="info", access_log=False, lifespan="off"
    )


def serve_api(
    hatchet: Hatchet,
    *,
    address: str,
    port: int,
    auth: AuthMode,
    own_auth_routers: Sequence[APIRouter] = (),
) -> None:
    """Serve in the foreground until interrupted (``own_auth_routers``: see create_app)."""
    uvicorn.Server(_config(hatchet, address, port, auth, own_auth_routers)).run()


@dataclasses.dataclass
class ApiHandle:
    url: str
    _server: uvicorn.Server
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)


def start_api(
    hatchet: Hatchet,
    *,
    address: str = "127.0.0.1",
    port: int = 0,
    auth: AuthMode | None = None,
    own_auth_routers: Sequence[APIRouter] = (),
) -> ApiHandle:
    """Serve from a daemon thread; ``port=0`` picks a free port. Returns when it listens."""
    port = port or _free_port(address)
    config = _config(hatchet, address, port, auth or AuthMode(), own_auth_routers)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="hatchnb-api", daemon=True)
    thread.start()
    _wait_until_started(server, thread)
    return ApiHandle(url=f"http://{address}:{port}", _server=server, _thread=thread)


def _wait_until_started(server: Any, thread: threading.Thread, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the HTTP API did not start (see the log above)")
        time.sleep(0.02)


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])
