"""Binding and authentication of the dashboard and its /metrics endpoint."""

from __future__ import annotations

import concurrent.futures
import http.cookiejar
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hatchnb.dashboard import serve as dashboard

pytestmark = pytest.mark.integration


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, url, exc.read().decode()


def test_refuses_a_non_loopback_address_without_a_secret(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(dashboard.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(dashboard.TOKEN_ENV, raising=False)
    with pytest.raises(dashboard.InsecureDashboard):
        dashboard.start_dashboard(hatchet, address="0.0.0.0")
    assert dashboard.is_loopback("127.0.0.1") and dashboard.is_loopback("::1")
    assert not dashboard.is_loopback("192.168.1.20")


def test_unauthenticated_requests_to_a_public_dashboard_are_refused(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dashboard.PASSWORD_ENV, "s3cret-pass")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        status, final_url, body = _get(handle.url + "?page=runs")
        assert "/login" in final_url  # sent to the login page, no app content
        assert "hatchnb-nav" not in body
        status, _, text = _get(handle.url + "metrics")
        assert status == 401 and "HATCHNB_METRICS_TOKEN" in text  # no token set: closed
    finally:
        handle.stop()


# --- finding 3: the metrics token, login throttling ----------------------------------------

METRICS_TOKEN = "metrics-only-token"


def test_metrics_take_their_own_token_and_never_the_dashboard_password(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dashboard.PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv(dashboard.METRICS_TOKEN_ENV, METRICS_TOKEN)
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        refused = [
            {},
            {"Authorization": f"Bearer {PASSWORD}"},
            {"Authorization": PASSWORD},
            {"Authorization": METRICS_TOKEN},  # the token without "Bearer "
            {"Authorization": f"bearer {METRICS_TOKEN}x"},
            {"Cookie": _cookie_header(_login(handle.url))},  # a logged-in user's cookie
        ]
        for headers in refused:
            status, _, _ = _get(handle.url + "metrics", headers)
            assert status == 401, headers
        status, _, text = _get(handle.url + "metrics", {"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200
        assert "# TYPE hatchnb_queue_to_start_seconds histogram" in text
    finally:
        handle.stop()


def _attempt(base: str, user: str, password: str) -> str:
    """Post the login form; the error the login page shows ('' when it let us in)."""
    opener = urllib.request.build_opener(_NoRedirect())
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with opener.open(base + "login", data=form, timeout=10) as response:
            location = response.headers.get("Location", "")
    except urllib.error.HTTPError as exc:
        with exc:
            location = exc.headers.get("Location", "")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(str(location)).query)
    return query.get("error", [""])[0]


def test_wrong_passwords_are_throttled_per_user_and_per_address(public: Any) -> None:
    for _ in range(5):
        assert _attempt(public.url, "alice", "guess") == "Invalid username or password!"
    # alice must now wait, even with the right password; bob (same address) may log in
    assert _attempt(public.url, "alice", PASSWORD).startswith("Too many failed logins")
    assert _attempt(public.url, "bob", PASSWORD) == ""
    answers = [_attempt(public.url, f"user{i}", "guess") for i in range(20)]
    throttled = [a for a in answers if a.startswith("Too many failed logins: try again in")]
    assert len(throttled) >= 5, answers  # the address passed 20 failures
    assert _attempt(public.url, "carol", PASSWORD).startswith("Too many failed logins")


def test_parallel_guesses_meet_the_same_limit(public: Any) -> None:
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _attempt(public.url, "alice", "guess"), range(24)))
    assert answers.count("Invalid username or password!") == 5, answers
    assert all(a.startswith("Too many failed logins") for a in answers if "Invalid" not in a)


def test_the_login_page_says_when_to_try_again(public: Any, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(public.url + "login")
        for _ in range(6):
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "wrong")
            with page.expect_navigation():
                page.click("button[type=submit], input[type=submit]")
        message = page.locator(".errormessage")
        assert "Too many failed logins: try again in" in message.inner_text()
    finally:
        context.close()


def test_metrics_endpoint_on_loopback(dashboard: Any, seeded: dict[str, Any]) -> None:
    status, _, text = _get(dashboard.url + "metrics")
    assert status == 200
    assert 'hatchnb_task_runs{status="SUCCEEDED"}' in text
    assert 'hatchnb_queue_to_start_seconds_bucket{le="+Inf"}' in text
    assert "hatchnb_queue_to_start_seconds_count " in text


# --- finding 1: cross-origin websocket, cookies, signed sessions -------------------------

PASSWORD = "s3cret-pass"


@pytest.fixture
def public(hatchet: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The dashboard listening on every address, behind a password."""
    monkeypatch.setenv(dashboard.PASSWORD_ENV, PASSWORD)
    monkeypatch.delenv(dashboard.TOKEN_ENV, raising=False)
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    yield handle
    handle.stop()


def _login(base: str, user: str = "alice", password: str = PASSWORD) -> Any:
    """An opener holding the cookies of a login (as a browser would)."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    form = urllib.parse.urlencode({"username": user, "password": password}).encode()
    with opener.open(base + "login", data=form, timeout=10) as response:
        response.read()
    opener.jar = jar  # type: ignore[attr-defined]
    return opener


def _cookie_header(opener: Any) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in opener.jar)


def _session_token(opener: Any, base: str) -> str:
    with opener.open(base + "?page=runs", timeout=20) as response:
        page = response.read().decode()
    match = re.search(r'"token":\s*"([^"]+)"', page)
    assert match, "the page carries no session token"
    return match.group(1)


def _ws_open(base: str, token: str, origin: str, cookie: str) -> Any:
    import websocket

    url = base.replace("http://", "ws://") + "ws"
    return websocket.create_connection(
        url,
        timeout=10,
        subprotocols=["bokeh", token],
        origin=origin,
        cookie=cookie,
    )


def _receives_a_message(conn: Any) -> bool:
    import websocket

    try:
        return bool(conn.recv())
    except (websocket.WebSocketException, OSError):
        return False
    finally:
        conn.close()
        conn.shutdown()  # close() skips the socket once the server has hung up


def test_websocket_from_a_foreign_origin_is_refused(public: Any) -> None:
    import websocket

    opener = _login(public.url)
    token = _session_token(opener, public.url)
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        _ws_open(public.url, token, "http://evil.example", _cookie_header(opener))
    assert refused.value.status_code == 403
    same_origin = public.url.rstrip("/")
    assert _receives_a_message(_ws_open(public.url, token, same_origin, _cookie_header(opener)))


def test_websocket_with_a_made_up_session_id_is_refused(public: Any) -> None:
    from bokeh.util.token import generate_jwt_token

    opener = _login(public.url)
    forged = generate_jwt_token("made-up-session-id", signed=False)
    conn = _ws_open(public.url, forged, public.url.rstrip("/"), _cookie_header(opener))
    assert not _receives_a_message(conn)


def test_the_page_does_not_carry_the_login_cookie(public: Any) -> None:
    """Bokeh copies request cookies and headers into the session token it writes into the
    page, where script can read them: the HttpOnly login cookie must not be among them."""
    from bokeh.util.token import get_token_payload

    opener = _login(public.url)
    cookie = next(c.value for c in opener.jar if c.name == "user")
    with opener.open(public.url + "?page=runs", timeout=20) as response:
        page = response.read().decode()
    assert cookie not in page
    payload = get_token_payload(_session_token(opener, public.url))
    assert "user" not in payload.get("cookies", {})
    assert "Cookie" not in payload.get("headers", {})


def test_login_cookie_is_samesite_httponly_and_secure_behind_tls(public: Any) -> None:
    form = urllib.parse.urlencode({"username": "alice", "password": PASSWORD}).encode()
    for proto, secure in (("http", False), ("https", True)):
        request = urllib.request.Request(
            public.url + "login", data=form, headers={"X-Forwarded-Proto": proto}
        )
        opener = urllib.request.build_opener(_NoRedirect())
        user_cookie = next(c for c in _set_cookies(opener, request) if c.startswith("user="))
        attributes = {a.strip().lower() for a in user_cookie.split(";")[1:]}
        assert "httponly" in attributes, user_cookie
        assert "samesite=lax" in attributes or "samesite=strict" in attributes, user_cookie
        assert ("secure" in attributes) is secure, user_cookie


def _set_cookies(opener: Any, request: urllib.request.Request) -> list[str]:
    try:
        with opener.open(request, timeout=10) as response:
            return list(response.headers.get_all("Set-Cookie") or [])
    except urllib.error.HTTPError as exc:
        with exc:
            return list(exc.headers.get_all("Set-Cookie") or [])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


# --- framing (clickjacking) and other response headers -----------------------------------


def test_every_response_forbids_framing_and_sniffing(public: Any) -> None:
    for path in ("login", "?page=runs", "metrics"):
        request = urllib.request.Request(public.url + path)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                headers = response.headers
        except urllib.error.HTTPError as exc:
            with exc:
                headers = exc.headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers["Referrer-Policy"] == "same-origin", path


def test_another_page_cannot_frame_the_dashboard(dashboard: Any, browser: Any) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(f'<iframe src="{dashboard.url}?page=runs" width=800 height=600></iframe>')
        page.wait_for_timeout(2000)
        framed = page.frames[1]
        assert framed.evaluate("() => typeof window.Bokeh") == "undefined"
    finally:
        context.close()
