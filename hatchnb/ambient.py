"""The client of the worker running in this process: unpickled task code that refers to a
``Hatchet`` object uses it instead of opening new connections."""

from __future__ import annotations

from typing import Any

_client: Any = None


def adopt(client: Any) -> None:
    """Make ``client`` this process's ambient client, unless one is already set."""
    global _client
    if _client is None:
        _client = client


def current() -> Any:
    return _client
