"""Login to the dashboard: named users with roles (``hatchet.users``) or the shared
password, through Panel's login page, with cookies that stay on this site
(``SameSite=Lax``, ``HttpOnly``, ``Secure`` behind TLS), logins that expire and throttled
attempts (``throttle.py``).

Panel's own handlers set the login cookie without ``SameSite``, so a page on another site
could open the dashboard's websocket with the user's cookie attached."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import functools
import hmac
import ipaddress
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from bokeh.application.handlers.handler import Handler
from bokeh.document import Document
from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler, _validate_next_url
from panel.config import config
from panel.io.state import state
from tornado.escape import url_escape
from tornado.httputil import HTTPServerRequest
from tornado.web import RequestHandler, decode_signed_value

from hatchnb.dashboard.throttle import LoginThrottle, refusal
from hatchnb.records import Role

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


def is_https(request: HTTPServerRequest) -> bool:
    """The browser reached us over TLS: directly, or through a proxy that says so.

    ``X-Forwarded-Proto`` is believed even from an untrusted client: all it can do is make
    the cookie stricter (``Secure``)."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.protocol == "https" or forwarded == "https"


class _StrictCookies:
    """Every cookie a handler sets is ``SameSite=Lax`` and ``HttpOnly``, and ``Secure`` when
    the browser reached us over TLS."""

    request: HTTPServerRequest

    def set_cookie(self, name: str, value: str | bytes, **options: Any) -> None:
        options.setdefault("httponly", True)
        options.setdefault("samesite", "Lax")
        if is_https(self.request):
            options["secure"] = True
        super().set_cookie(name, value, **options)  # type: ignore[misc]


@dataclasses.dataclass(frozen=True)
class Identity:
    """Who acts in a dashboard session, and with which role."""

    name: str
    role: Role


#: who acts on a dashboard that needs no login (loopback, no password, no users)
LOCAL = Identity("local", Role.ADMIN)


@dataclasses.dataclass(frozen=True)
class Access:
    """How one served dashboard tells who is logged in.

    Named users (``hatchet.users``), once any exists, are the only way in; until then the
    shared password logs in as an admin under the name typed. Logins last
    ``session_hours``; the role is read from the database at each action, so a changed role
    or a removed user takes effect at once."""

    client: Hatchet
    #: a login is needed at all (decided when the server starts)
    enabled: bool
    #: HATCHNB_DASHBOARD_PASSWORD (or _TOKEN), used while no named user exists
    password: str | None
    cookie_secret: str
    session_hours: float
    #: single sign-on: a reverse proxy at one of ``trusted_proxies`` names the user in it
    trusted_header: str | None = None
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @property
    def max_age_days(self) -> float:
        return self.session_hours / 24

    def login(self, username: str, password: str) -> Identity | None:
        """The identity a login form gives (None: refused)."""
        if self.client.users.any():
            user = self.client.users.authenticate(username, password)
            return Identity(user.name, user.role) if user else None
        if self.password and hmac.compare_digest(password.encode(), self.password.encode()):
            return Identity(username or "admin", Role.ADMIN)
        return None

    def cookie_value(self, name: str) -> str:
        """What the (signed) login cookie holds: the user and when they logged in."""
        return json.dumps({"user": name, "at": time.time()})

    def identify(self, cookie: str | bytes | None) -> Identity | None:
        """The identity a login cookie carries: None unless genuine, unexpired and, with
        named users, naming one that still exists."""
        if not self.enabled:
            return LOCAL
        return self.identify_session(self.session_claims(cookie))

    def session_claims(self, cookie: str | bytes | None) -> dict[str, Any]:
        """Who a genuine, unexpired login cookie names and when they logged in (empty
        otherwise): what a session carries instead of the cookie itself."""
        value = cookie and decode_signed_value(
            self.cookie_secret, "user", cookie, max_age_days=self.max_age_days
        )
        try:
            claims = json.loads(value) if value else {}
        except ValueError:
            return {}
        fresh = isinstance(claims, dict) and "user" in claims and self._unexpired(claims.get("at"))
        return {"user": str(claims["user"]), "at": claims["at"]} if fresh else {}

    def identify_session(self, claims: Mapping[str, Any]) -> Identity | None:
        """The identity of a session's login claims, with the user's role now."""
        if not self.enabled:
            return LOCAL
        if not claims or not self._unexpired(claims.get("at")):
            return None
        return self._identity_of(str(claims.get("user")))

    def proxied_user(self, request: HTTPServerRequest) -> Identity | None:
        """The named user a trusted reverse proxy vouches for in ``trusted_header`` (None:
        no header, a peer that is not a trusted proxy, or no such user)."""
        name = request.headers.get(self.trusted_header) if self.trusted_header else None
        if not name or not self._is_trusted_proxy(request.remote_ip):
            return None
        user = self.client.users.get(name.strip())
        return Identity(user.name, user.role) if user else None

    def request_claims(self, request: HTTPServerRequest) -> dict[str, Any]:
        """The login claims of a request: its trusted proxy's user, else its login cookie."""
        proxied = self.proxied_user(request)
        if proxied is not None:
            return {"user": proxied.name, "at": time.time()}
        morsel = request.cookies.get("user")
        return self.session_claims(morsel.value if morsel else None)

    def _is_trusted_proxy(self, address: str | None) -> bool:
        try:
            peer = ipaddress.ip_address(address or "")
        except ValueError:
            return False
        return any(peer in network for network in self.trusted_proxies)

    def _unexpired(self, logged_in_at: Any) -> bool:
        if not isinstance(logged_in_at, int | float):
            return False
        return time.time() < logged_in_at + self.session_hours * 3600

    def _identity_of(self, name: str) -> Identity | None:
        if not self.client.users.any():
            return Identity(name, Role.ADMIN) if self.password else None
        user = self.client.users.get(name)
        return Identity(user.name, user.role) if user else None


# panel is untyped here (pyproject: follow_imports = "skip"), so its classes are Any
class LoginHandler(_StrictCookies, BasicLoginHandler):  # type: ignore[misc]
    """Panel's login page, with strict cookies, throttled attempts and logins that expire.

    Attempts run one at a time on ``checking``, off the server's loop: a password check
    (scrypt) takes about 0.4 s, and one at a time means a burst of parallel guesses meets
    the throttle exactly as a sequence of them would."""

    access: Access
    throttle: LoginThrottle
    checking: concurrent.futures.Executor

    async def post(self) -> None:
        username = self.get_argument("username", "").strip()
        password = self.get_argument("password", "")
        address = self.request.remote_ip or ""
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(
            self.checking, self._attempt, username, password, address
        )
        if isinstance(outcome, str):
            self.redirect(f"{self._login_endpoint}?error={url_escape(outcome)}")
            return
        self.set_current_user(outcome.name)
        self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))

    def _attempt(self, username: str, password: str, address: str) -> Identity | str:
        """The identity the form logs in as, or why it does not."""
        wait = self.throttle.wait(username, address)
        if wait > 0:
            return refusal(wait)
        identity = self.access.login(username, password)
        if identity is None:
            self.throttle.failed(username, address)
            return "Invalid username or password!"
        self.throttle.succeeded(username)
        return identity

    def set_current_user(self, user: str) -> None:
        self.clear_cookie("is_guest")
        value = self.access.cookie_value(user)
        days = self.access.max_age_days
        self.set_signed_cookie("user", value, expires_days=days, path=config.cookie_path)


class StrictLogoutHandler(_StrictCookies, LogoutHandler):  # type: ignore[misc]
    """Panel's logout page, with strict cookies."""


class AuthProvider(BasicAuthProvider):  # type: ignore[misc]
    """Panel's login and logout pages, served by the handlers above; a request's user is
    whoever its login cookie names (``Access.identify``)."""

    def __init__(self, access: Access, throttle: LoginThrottle) -> None:
        self._access = access
        self._throttle = throttle
        self._checking = concurrent.futures.ThreadPoolExecutor(1, "hatchnb-login")
        super().__init__()

    @property
    def get_user(self) -> Callable[[RequestHandler], str | None]:
        def user_of(handler: RequestHandler) -> str | None:
            if not self._access.enabled:
                return LOCAL.name
            identity = self._access.identify_session(self._access.request_claims(handler.request))
            return identity.name if identity else None

        return user_of

    @functools.cached_property
    def login_handler(self) -> type[LoginHandler]:
        attributes = {
            "access": self._access,
            "throttle": self._throttle,
            "checking": self._checking,
            "_login_endpoint": self._login_endpoint,
            "_login_template": self._login_template,
        }
        return type("Login", (LoginHandler,), attributes)

    @functools.cached_property
    def logout_handler(self) -> type[StrictLogoutHandler]:
        attributes = {
            "_login_endpoint": self._login_endpoint,
            "_logout_template": self._logout_template,
        }
        return type("Logout", (StrictLogoutHandler,), attributes)


#: the key of a session's login claims in its (signed) Bokeh session token
SESSION_CLAIMS = "hatchnb_login"
#: kept out of the session token Bokeh writes into the page, where script could read them
PRIVATE_COOKIES = ["user", "id_token"]
PRIVATE_HEADERS = ["Cookie", "Authorization"]


# bokeh is untyped here too (pyproject: follow_imports = "skip")
class SessionIdentity(Handler):  # type: ignore[misc]
    """A Bokeh application handler that puts who is logged in into each new session's
    token (``SESSION_CLAIMS``) instead of the login cookie, which stays HttpOnly: the
    token is in the page, and sessions are signed, so the claims cannot be altered."""

    def __init__(self, access: Access) -> None:
        super().__init__()
        self._access = access

    def modify_document(self, doc: Document) -> None:
        """Nothing: the page is built by the application's other handler."""

    def process_request(self, request: HTTPServerRequest) -> dict[str, Any]:
        return {SESSION_CLAIMS: self._access.request_claims(request)}
