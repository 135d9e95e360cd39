"""``POST /api/v1/webhooks/{name}``: inbound webhooks (``hatchet.webhooks.receive``). No bearer
token: each webhook checks its own credentials (HMAC signature, basic auth or API key)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from hatchnb import errors
from hatchnb.api.failures import error_body
from hatchnb.api.models import ErrorBody
from hatchnb.api.routes.common import PREFIX, hatchet_of

router = APIRouter(prefix=PREFIX, tags=["webhooks"])

_REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in {
        400: "the body cannot be read, or the webhook's expressions fail on it",
        403: "the signature or credentials are wrong or missing (nothing is stored)",
        404: "no webhook has this name",
        413: "the body is larger than HATCHNB_MAX_PAYLOAD_BYTES",
        503: "the database cannot be reached",
    }.items()
}


@router.post(
    "/webhooks/{name}",
    responses={
        200: {"description": "the event was pushed (or Slack's challenge answered)"},
        **_REFUSALS,
    },
)
async def receive_webhook(name: str, request: Request) -> JSONResponse:
    """Verify the request by the webhook's auth method and push the event its expressions
    make of it, so ``on_events`` workflows start (Hatchet's webhook response shape)."""
    return await _receive(name, request)


@router.post(
    "/stable/tenants/{tenant}/webhooks/{name}",
    responses={200: {"description": "as POST /api/v1/webhooks/{name}"}, **_REFUSALS},
)
async def receive_webhook_at_hatchets_path(
    tenant: str, name: str, request: Request
) -> JSONResponse:
    """Hatchet's webhook URL, so senders set up for Hatchet need no change (hatchnb has one
    tenant: any tenant id is taken)."""
    return await _receive(name, request)


async def _receive(name: str, request: Request) -> JSONResponse:
    body = await request.body()
    try:
        receipt = await asyncio.to_thread(
            hatchet_of(request).webhooks.receive,
            name,
            method=request.method,
            headers=list(request.headers.items()),
            body=body,
            query=dict(request.query_params),
        )
    except errors.WebhookRejected as refused:
        return error_body(refused.status, refused.reason)
    return JSONResponse(receipt.to_response())
