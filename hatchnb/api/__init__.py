"""The HTTP API (FastAPI): ``create_app`` builds it, ``serve`` runs it with uvicorn.
Routes call the feature clients of a ``Hatchet`` (one path with the Python API); nothing
here touches the database directly."""

from __future__ import annotations

from hatchnb.api.app import create_app
from hatchnb.api.auth import AuthMode

__all__ = ["AuthMode", "create_app"]
