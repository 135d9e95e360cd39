"""``GET /api/v1/stable/tenants/{tenant}/traces``: a run's trace at hatchet_sdk's
ObservabilityApi path and in its shape (``hatchet.traces``)."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from hatchnb.api.auth import READ, Caller
from hatchnb.api.failures import ERROR_RESPONSES
from hatchnb.api.routes.common import PREFIX, hatchet_of

router = APIRouter(prefix=PREFIX, tags=["traces"], responses=ERROR_RESPONSES)


@router.get(
    "/stable/tenants/{tenant}/traces",
    responses={200: {"description": "OtelSpanList: rows (OtelSpan) and pagination"}},
)
async def get_trace(
    tenant: str,
    run_external_id: UUID,
    request: Request,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    caller: Caller = READ,
) -> JSONResponse:
    """The spans of the trace a run (or task run) belongs to: those HatchetInstrumentor's
    collector stored and the engine's (hatchnb has one tenant: any tenant id is taken)."""
    spans = await asyncio.to_thread(
        hatchet_of(request).traces.get, str(run_external_id), offset, limit
    )
    return JSONResponse(
        {
            "rows": [s.to_json() for s in spans],
            "pagination": {"current_page": offset // limit + 1, "num_pages": None},
        }
    )
