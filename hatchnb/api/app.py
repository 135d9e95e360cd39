"""``create_app(hatchet, auth=...)``: the FastAPI application of the HTTP API. Its routes
call the same feature clients as Python code (``hatchet.runs``, ``hatchet.event``, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI

from hatchnb.api import failures
from hatchnb.api.auth import AuthMode, Guard
from hatchnb.api.routes import catalog, events, health, runs, traces, webhooks

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

OPENAPI_URL = "/api/openapi.json"
DOCS_URL = "/api/docs"


def create_app(
    hatchet: Hatchet,
    *,
    auth: AuthMode | None = None,
    own_auth_routers: Sequence[APIRouter] = (),
) -> FastAPI:
    """The API app over ``hatchet``. ``auth=AuthMode(required=False)`` serves every caller
    as an admin (check the address with ``AuthMode.check_address`` before serving it).
    ``own_auth_routers`` are included without the bearer-token check: they authenticate
    their requests themselves (the inbound webhooks)."""
    mode = auth or AuthMode()
    app = FastAPI(
        title="hatchnb",
        summary="Start workflows, follow runs, read outputs and push events over HTTP.",
        description="Every call under /api/v1 needs `Authorization: Bearer <token>` "
        "(`hatchnb tokens create`). See docs/http-api.md.",
        version="1",
        openapi_url=OPENAPI_URL,
        docs_url=DOCS_URL,
        redoc_url=None,
    )
    app.state.hatchet = hatchet
    app.state.guard = Guard(mode, hatchet.tokens.authenticate)
    failures.install(app)
    for router in (health.router, runs.router, events.router, catalog.router, traces.router):
        app.include_router(router)
    # ---- routers with their own authentication ---------------------------------------
    # Bearer tokens are checked by each endpoint's dependency (auth.READ, auth.TRIGGER,
    # ...), not by a middleware, so a router included here is exempt from them: the
    # inbound webhooks (POST /api/v1/webhooks/<name>, hatchet.webhooks.receive).
    for router in (webhooks.router, *own_auth_routers):
        app.include_router(router)
    return app
