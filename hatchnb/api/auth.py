"""Bearer tokens (``hatchnb tokens create``), scopes per endpoint, and throttling of failed
authentication per client address.

Scopes: ``read`` reads everything; ``trigger`` starts runs and pushes events and reads only
the runs it started; ``admin`` does everything. Without auth (``AuthMode(required=False)``,
allowed only on a loopback address) every caller is an admin."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hatchnb import errors
from hatchnb.dashboard.throttle import LoginThrottle
from hatchnb.records import ApiToken, TokenScope

#: failed authentications one address may make before each further attempt waits (30 s,
#: then doubling, up to 15 minutes: the dashboard's login throttle)
FAILURES_PER_ADDRESS = 10


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


class InsecureApi(errors.ConfigurationError):
    """The API would listen on a non-loopback address without tokens: drop --no-auth, or
    listen on 127.0.0.1."""


@dataclasses.dataclass(frozen=True)
class AuthMode:
    """``required=False`` serves every caller as an admin: only for a loopback address."""

    required: bool = True
    failures_per_address: int = FAILURES_PER_ADDRESS

    def check_address(self, address: str) -> None:
        if not self.required and not is_loopback(address):
            raise InsecureApi(
                f"--no-auth on {address}: anyone who reaches it could run and cancel "
                "workflows; listen on 127.0.0.1, or create a token (hatchnb tokens create)"
            )


@dataclasses.dataclass(frozen=True)
class Caller:
    """Who is calling: a token, or nobody when auth is off (then an admin)."""

    token: ApiToken | None

    @property
    def scope(self) -> TokenScope:
        return self.token.scope if self.token else TokenScope.ADMIN

    @property
    def token_id(self) -> int | None:
        return self.token.id if self.token else None

    @property
    def name(self) -> str:
        return self.token.name if self.token else "(no auth)"


_bearer = HTTPBearer(
    auto_error=False,
    description="an API token: hatchnb tokens create --name NAME --scope read|trigger|admin",
)


class Guard:
    """The app's token checks: holds the failure throttle."""

    def __init__(self, mode: AuthMode, authenticate: Callable[[str], ApiToken | None]) -> None:
        self.mode = mode
        self._authenticate = authenticate
        limit = mode.failures_per_address
        self._throttle = LoginThrottle(per_user=limit, per_address=limit)

    def caller(self, request: Request, credentials: HTTPAuthorizationCredentials | None) -> Caller:
        if not self.mode.required:
            return Caller(None)
        address = request.client.host if request.client else "unknown"
        # the throttle counts per user name and per address; here both are the address
        wait = self._throttle.wait(address, address)
        if wait > 0:
            raise HTTPException(
                429,
                f"too many failed authentications from {address}: try again in {math.ceil(wait)} s",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        if credentials is None:
            self._throttle.failed(address, address)
            raise _unauthorized("send an API token as 'Authorization: Bearer <token>'")
        token = self._authenticate(credentials.credentials)
        if token is None:
            self._throttle.failed(address, address)
            raise _unauthorized("the token is unknown, revoked or expired")
        return Caller(token)


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require(*scopes: TokenScope) -> Callable[..., Caller]:
    """A dependency: the caller, when its token has one of ``scopes`` (admin always may)."""
    allowed = {TokenScope.ADMIN, *scopes}

    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)] = None,
    ) -> Caller:
        guard: Guard = request.app.state.guard
        caller = guard.caller(request, credentials)
        if caller.scope not in allowed:
            names = " or ".join(sorted(s.value for s in allowed))
            raise HTTPException(
                403, f"token {caller.name!r} has scope {caller.scope.value}; this needs {names}"
            )
        return caller

    return check


READ = Depends(require(TokenScope.READ))
READ_OR_TRIGGER = Depends(require(TokenScope.READ, TokenScope.TRIGGER))
TRIGGER = Depends(require(TokenScope.TRIGGER))
ADMIN = Depends(require())
