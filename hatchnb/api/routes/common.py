"""What the routers share: the client of the app, the run access check of trigger tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import HTTPException, Request

from hatchnb.api.auth import Caller
from hatchnb.features.runs import run_uuid
from hatchnb.records import TokenScope

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

PREFIX = "/api/v1"


def hatchet_of(request: Request) -> Hatchet:
    client: Hatchet = request.app.state.hatchet
    return client


def readable_run(request: Request, caller: Caller, run_id: str) -> str:
    """The run id, normalised; a trigger token may read only the runs it started."""
    run_id = run_uuid(run_id)
    if caller.scope is TokenScope.TRIGGER:
        assert caller.token_id is not None  # only a token has the trigger scope
        if not hatchet_of(request).tokens.started_by(caller.token_id, run_id):
            raise HTTPException(
                403,
                f"token {caller.name!r} has scope trigger: it reads only the runs it started "
                "over HTTP; use a read token for other runs",
            )
    return run_id
