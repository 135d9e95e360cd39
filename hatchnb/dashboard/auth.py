"""Login for a dashboard served with a password: Panel's login page and cookie, with
cookies that stay on this site (``SameSite=Lax``, ``HttpOnly``, ``Secure`` behind TLS) and
throttled attempts (``throttle.py``).

Panel's own handlers set the login cookie without ``SameSite``, so a page on another site
could open the dashboard's websocket with the user's cookie attached."""

from __future__ import annotations

import functools
import hmac
from collections.abc import Callable
from typing import Any

from panel.auth import BasicAuthProvider, BasicLoginHandler, LogoutHandler, _validate_next_url
from panel.io.state import state
from tornado.escape import url_escape
from tornado.httputil import HTTPServerRequest

from hatchnb.dashboard.throttle import LoginThrottle, refusal


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


# panel is untyped here (pyproject: follow_imports = "skip"), so its classes are Any
class LoginHandler(_StrictCookies, BasicLoginHandler):  # type: ignore[misc]
    """Panel's login page, with strict cookies and throttled attempts; ``check`` says
    whether a password is right."""

    check: Callable[[str, str], bool]
    throttle: LoginThrottle

    def post(self) -> None:
        username = self.get_argument("username", "").strip()
        password = self.get_argument("password", "")
        address = self.request.remote_ip or ""
        wait = self.throttle.wait(username, address)
        if wait > 0:
            self._refuse(refusal(wait))
            return
        if not type(self).check(username, password):
            self.throttle.failed(username, address)
            self._refuse("Invalid username or password!")
            return
        self.throttle.succeeded(username)
        self.set_current_user(username)
        self.redirect(_validate_next_url(self.get_cookie("next_url", state.base_url)))

    def _refuse(self, reason: str) -> None:
        self.redirect(f"{self._login_endpoint}?error={url_escape(reason)}")


class StrictLogoutHandler(_StrictCookies, LogoutHandler):  # type: ignore[misc]
    """Panel's logout page, with strict cookies."""


class AuthProvider(BasicAuthProvider):  # type: ignore[misc]
    """Panel's login and logout pages, served by the handlers above."""

    def __init__(self, check: Callable[[str, str], bool], throttle: LoginThrottle) -> None:
        self._check = check
        self._throttle = throttle
        super().__init__()

    @functools.cached_property
    def login_handler(self) -> type[LoginHandler]:
        attributes = {
            "check": staticmethod(self._check),
            "throttle": self._throttle,
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


def password_check(secret: str) -> Callable[[str, str], bool]:
    """The check of the shared dashboard password (any user name)."""

    def check(username: str, password: str) -> bool:
        return hmac.compare_digest(password.encode(), secret.encode())

    return check
