"""``/healthz`` (the process answers) and ``/readyz`` (and reaches its database)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hatchnb import errors
from hatchnb.api.models import Health
from hatchnb.api.routes.common import hatchet_of

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The server is up (no token needed)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health}})
def readyz(request: Request) -> Health | JSONResponse:
    """The server can reach its database (no token needed); 503 otherwise."""
    try:
        hatchet_of(request).workflows.list(limit=1)
    except errors.DatabaseUnavailable:
        body = Health(status="unavailable", database="unreachable")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok", database="ok")
