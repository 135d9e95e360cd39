"""The real API server (uvicorn on a thread) over the test's database, and tokens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from hatchnb.api import AuthMode
from hatchnb.api.serve import ApiHandle, start_api


@pytest.fixture
def api(hatchet: Any) -> Iterator[ApiHandle]:
    """The API with bearer tokens required (a low throttle: 3 failures per address)."""
    handle = start_api(hatchet, auth=AuthMode(required=True, failures_per_address=3))
    yield handle
    handle.stop()


@pytest.fixture
def open_api(hatchet: Any) -> Iterator[ApiHandle]:
    """The API on loopback without tokens: every caller is an admin."""
    handle = start_api(hatchet, auth=AuthMode(required=False))
    yield handle
    handle.stop()


@pytest.fixture
def client_for(hatchet: Any, api: ApiHandle) -> Iterator[Callable[..., httpx.Client]]:
    """``client_for("read")``: an httpx client with a new token of that scope."""
    clients: list[httpx.Client] = []

    def make(scope: str, name: str | None = None) -> httpx.Client:
        secret, _ = hatchet.tokens.create(name or f"{scope}-{len(clients)}", scope)
        client = httpx.Client(
            base_url=api.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
