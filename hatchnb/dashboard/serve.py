"""Serve the Panel dashboard (``hatchnb.dashboard.app``): ``start_dashboard()`` (background
thread, used by ``%hatchet dashboard``) and ``serve_dashboard()`` (blocking, used by
``hatchnb dashboard``).

It listens on 127.0.0.1 unless told otherwise; any other address needs named users
(``hatchnb users add``) or a shared password (HATCHNB_DASHBOARD_PASSWORD / _TOKEN), and it
refuses to start without either. Logins go through Panel's login page (``auth.py``:
throttled, expiring, roles); ``/metrics`` takes its own token (HATCHNB_METRICS_TOKEN, as
``Authorization: Bearer <token>``), never a password. Its websocket only accepts pages
served by this server (signed session ids) from this machine's names or
HATCHNB_DASHBOARD_ORIGINS. docs/security.md has the whole picture."""

from __future__ import annotations

import contextlib
import dataclasses
import hmac
import ipaddress
import os
import secrets
import socket
import urllib.parse
from typing import TYPE_CHECKING, Any

from hatchnb import errors
from hatchnb.dashboard import auth, headers, throttle

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.dashboard.common import DashboardConfig

PASSWORD_ENV = "HATCHNB_DASHBOARD_PASSWORD"
TOKEN_ENV = "HATCHNB_DASHBOARD_TOKEN"
COOKIE_SECRET_ENV = "HATCHNB_DASHBOARD_COOKIE_SECRET"
ORIGINS_ENV = "HATCHNB_DASHBOARD_ORIGINS"
METRICS_TOKEN_ENV = "HATCHNB_METRICS_TOKEN"
SESSION_HOURS_ENV = "HATCHNB_DASHBOARD_SESSION_HOURS"
VIEWER_PAYLOADS_ENV = "HATCHNB_DASHBOARD_VIEWER_PAYLOADS"
TRUSTED_HEADER_ENV = "HATCHNB_DASHBOARD_TRUSTED_HEADER"
TRUSTED_PROXIES_ENV = "HATCHNB_DASHBOARD_TRUSTED_PROXIES"
DEFAULT_SESSION_HOURS = 8.0


class InsecureDashboard(errors.ConfigurationError):
    """The dashboard would listen on a non-loopback address without authentication: add
    users (hatchnb users add NAME --role viewer|operator|admin), set
    HATCHNB_DASHBOARD_PASSWORD or HATCHNB_DASHBOARD_TOKEN, or use --address 127.0.0.1."""


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def dashboard_secret() -> str | None:
    """The password (or token) the dashboard asks for, from the environment."""
    return os.environ.get(PASSWORD_ENV) or os.environ.get(TOKEN_ENV) or None


def check_address(address: str, secret: str | None, named_users: bool = False) -> None:
    if secret is None and not named_users and not is_loopback(address):
        raise InsecureDashboard()


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((address if address not in ("", "0.0.0.0") else "127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class DashboardHandle:
    url: str
    _server: Any

    def stop(self) -> None:
        """Stop the background server (idempotent)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __repr__(self) -> str:
        return f"<hatchnb dashboard at {self.url}>"


def metrics_token() -> str | None:
    return os.environ.get(METRICS_TOKEN_ENV) or None


def _metrics_handler(hatchet: Hatchet, token: str | None, closed: bool) -> Any:
    """``/metrics``: with a token, only ``Authorization: Bearer <token>`` (exactly); without
    one, open on a loopback dashboard without a password and closed (``closed``) otherwise."""
    from tornado.web import RequestHandler

    expected = f"Bearer {token}".encode() if token else None

    class MetricsHandler(RequestHandler):
        def get(self) -> None:
            if expected is None and closed:
                self._refuse(f"/metrics needs a token: set {METRICS_TOKEN_ENV}")
                return
            given = self.request.headers.get("Authorization", "").encode()
            if expected is not None and not hmac.compare_digest(given, expected):
                self._refuse("authentication required: Authorization: Bearer <token>")
                return
            self.set_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.finish(hatchet.metrics.prometheus_text())

        def _refuse(self, reason: str) -> None:
            self.set_status(401)
            self.set_header("WWW-Authenticate", 'Bearer realm="hatchnb metrics"')
            self.finish(reason + "\n")

    return MetricsHandler


def websocket_origins(address: str, port: int) -> list[str]:
    """The ``host:port`` of the pages that may open the dashboard's websocket (Bokeh's
    ``allow_websocket_origin``): this machine's names and addresses, plus
    HATCHNB_DASHBOARD_ORIGINS (the name users type, e.g. behind a reverse proxy)."""
    hosts = {"127.0.0.1", "localhost"}
    if not is_loopback(address):
        hosts |= _own_names()
    if address not in ("", "0.0.0.0", "::"):
        hosts.add(address)
    configured = [_host_of(o) for o in os.environ.get(ORIGINS_ENV, "").split(",") if o.strip()]
    return sorted(f"{host}:{port}" for host in hosts) + configured


def _host_of(origin: str) -> str:
    """``host[:port]`` of an origin written with or without its scheme."""
    origin = origin.strip()
    return urllib.parse.urlsplit(origin).netloc if "://" in origin else origin.rstrip("/")


def _own_names() -> set[str]:
    names = {socket.gethostname(), socket.getfqdn()}
    with contextlib.suppress(OSError):
        names |= set(socket.gethostbyname_ex(socket.gethostname())[2])
    return names


def session_hours() -> float:
    """How long a login lasts (HATCHNB_DASHBOARD_SESSION_HOURS, default 8)."""
    text = os.environ.get(SESSION_HOURS_ENV) or str(DEFAULT_SESSION_HOURS)
    try:
        hours = float(text)
    except ValueError:
        hours = 0.0
    if not 0 < hours < float("inf"):
        raise errors.ConfigurationError(f"{SESSION_HOURS_ENV}={text!r}: give hours above 0")
    return hours


def viewer_payloads() -> bool:
    """Whether viewers see payloads (HATCHNB_DASHBOARD_VIEWER_PAYLOADS; on unless 0/off)."""
    text = os.environ.get(VIEWER_PAYLOADS_ENV, "on").strip().lower()
    return text not in ("0", "off", "false", "no")


def _access(client: Hatchet, address: str) -> auth.Access:
    secret = dashboard_secret()
    named_users = client.users.any()
    check_address(address, secret, named_users)
    header, proxies = trusted_proxy()
    return auth.Access(
        client,
        enabled=secret is not None or named_users or header is not None,
        password=secret,
        cookie_secret=os.environ.get(COOKIE_SECRET_ENV) or secrets.token_hex(32),
        session_hours=session_hours(),
        trusted_header=header,
        trusted_proxies=proxies,
    )


def trusted_proxy() -> tuple[str | None, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]]:
    """Single sign-on through a reverse proxy: the header it names the user in
    (HATCHNB_DASHBOARD_TRUSTED_HEADER) and the addresses it connects from
    (HATCHNB_DASHBOARD_TRUSTED_PROXIES, required with the header)."""
    header = os.environ.get(TRUSTED_HEADER_ENV, "").strip() or None
    text = os.environ.get(TRUSTED_PROXIES_ENV, "")
    if header is None:
        return None, ()
    try:
        proxies = tuple(
            ipaddress.ip_network(p.strip(), strict=False) for p in text.split(",") if p.strip()
        )
    except ValueError as exc:
        raise errors.ConfigurationError(f"{TRUSTED_PROXIES_ENV}: {exc}") from None
    if not proxies:
        raise errors.ConfigurationError(
            f"{TRUSTED_HEADER_ENV} needs {TRUSTED_PROXIES_ENV}: the addresses of the reverse "
            "proxy that sets it (anyone else could send the header too)"
        )
    return header, proxies


def _serve_options(config: DashboardConfig, address: str, port: int) -> dict[str, Any]:
    access = config.access
    assert access is not None  # served here, the config always carries its access
    metrics = _metrics_handler(config.client, metrics_token(), closed=access.enabled)
    options: dict[str, Any] = {
        "address": address,
        "port": port,
        "show": False,
        "title": "hatchnb",
        "websocket_origin": websocket_origins(address, port),
        # a page must come from this server to open a session: its id is signed with a key
        # only this process knows, so a made-up id is refused
        "sign_sessions": True,
        "secret_key": secrets.token_bytes(32),
        "extra_patterns": [(r"/metrics", metrics)],
        "transforms": [headers.SecurityHeaders],
    }
    if access.enabled:
        options["auth_provider"] = auth.AuthProvider(access, throttle.LoginThrottle())
        options["cookie_secret"] = access.cookie_secret
        options["exclude_cookies"] = auth.PRIVATE_COOKIES
        options["exclude_headers"] = auth.PRIVATE_HEADERS
    return options


def _prepare(hatchet: Hatchet | None, address: str) -> tuple[DashboardConfig, Any]:
    """The app of one served dashboard, bound to its client and who may log in."""
    from panel.io.application import build_applications

    from hatchnb import Hatchet
    from hatchnb.dashboard.app import create_app
    from hatchnb.dashboard.common import DashboardConfig

    client = hatchet or Hatchet()
    try:
        access = _access(client, address)
    except errors.HatchnbError:
        if hatchet is None:
            client.close()
        raise
    config = DashboardConfig(
        client, auth_enabled=access.enabled, access=access, viewer_payloads=viewer_payloads()
    )

    def app() -> Any:  # a plain function (not a partial): Panel calls it once per session
        return create_app(config)

    application = build_applications(app, title="hatchnb")["/"]
    application.add(auth.SessionIdentity(access))
    return config, application


def start_dashboard(
    hatchet: Hatchet | None = None, *, address: str = "127.0.0.1", port: int = 0
) -> DashboardHandle:
    """Serve the dashboard from a background thread; returns a handle with ``url`` and
    ``stop()``. ``port=0`` picks a free port."""
    import panel as pn

    config, app = _prepare(hatchet, address)
    port = port or free_port(address)
    options = _serve_options(config, address, port)
    thread = pn.serve(app, threaded=True, verbose=False, **options)
    _wait_for_port(address, port, thread)
    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    return DashboardHandle(url=f"http://{host}:{port}/", _server=thread)


def serve_dashboard(
    hatchet: Hatchet | None = None,
    *,
    address: str = "127.0.0.1",
    port: int = 8765,
    prefix: str = "",
) -> None:
    """Serve the dashboard in the foreground until interrupted (``hatchnb dashboard``);
    ``prefix``: the URL path it lives under (behind a proxy that keeps the path)."""
    import panel as pn

    config, app = _prepare(hatchet, address)
    options = _serve_options(config, address, port or free_port(address))
    path = url_prefix(prefix)
    if path:
        options["prefix"] = path
        options["extra_patterns"].append(_favicon_route())
    print(f"hatchnb dashboard: http://{address}:{options['port']}{path}/", flush=True)
    origins = ", ".join(options["websocket_origin"])
    print(f"pages may be opened as: {origins} (more: {ORIGINS_ENV})", flush=True)
    pn.serve(app, threaded=False, verbose=False, **options)


def _favicon_route() -> tuple[str, Any]:
    """Bokeh answers ``/favicon.ico`` at the root only; under a prefix the browser asks for
    ``<prefix>/favicon.ico`` (Bokeh prefixes extra routes)."""
    from panel.io.resources import DIST_DIR
    from tornado.web import RequestHandler

    icon = (DIST_DIR / "images" / "favicon.ico").read_bytes()

    class FaviconHandler(RequestHandler):
        def get(self) -> None:
            self.set_header("Content-Type", "image/x-icon")
            self.finish(icon)

    return (r"/favicon.ico", FaviconHandler)


def url_prefix(prefix: str) -> str:
    """``/a/b`` from ``a/b/``, ``/a/b/`` or ``/a/b`` ('' for the root)."""
    if any(c in prefix for c in "?#\\ ") or "//" in prefix.strip("/"):
        raise errors.ConfigurationError(
            f"--prefix {prefix!r}: give a URL path like /user/ana/hatchnb"
        )
    stripped = prefix.strip("/")
    return "/" + stripped if stripped else ""


def _wait_for_port(address: str, port: int, thread: Any, timeout: float = 15.0) -> None:
    import time

    host = "127.0.0.1" if address in ("0.0.0.0", "") else address
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if not thread.is_alive():
                break
            time.sleep(0.05)
    raise errors.HatchnbError(f"the dashboard did not start listening on {host}:{port}")
