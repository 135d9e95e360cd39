"""Named users and roles in the dashboard: viewers look, operators act on runs, admins also
change alerts; logins expire; every action lands in the audit log (issue 19)."""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from hatchnb.dashboard import serve as dashboard
from tests.conftest import wait_until
from tests.dashboard.conftest import Page

pytestmark = [pytest.mark.browser, pytest.mark.integration]

PASSWORDS = {"vera": "viewer password", "otto": "operator password", "ada": "admin password"}

#: BokehJS: let the session's user click buttons the page greyed out (a user can always
#: change what their own browser shows); the server must still refuse
FORCE_ENABLE = """(label) => {
  for (const doc of Bokeh.documents)
    for (const m of doc.all_models)
      if (m.label === label) m.disabled = false;
}"""


@pytest.fixture
def users(hatchet: Any) -> None:
    for (name, password), role in zip(
        PASSWORDS.items(), ("viewer", "operator", "admin"), strict=True
    ):
        hatchet.users.add(name, role, password)


@pytest.fixture
def served(
    hatchet: Any, users: None, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The dashboard on every address, with named users and no shared password."""
    monkeypatch.delenv(dashboard.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(dashboard.TOKEN_ENV, raising=False)
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    yield handle
    handle.stop()


@pytest.fixture
def login(browser: Any, served: Any) -> Iterator[Any]:
    """``login(name)``: a logged-in page of that user."""
    contexts: list[Any] = []

    def open_as(name: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(context)
        return _logged_in(context, served.url, name)

    yield open_as
    for context in contexts:
        context.close()


def _logged_in(context: Any, base: str, name: str) -> Page:
    page = context.new_page()
    page.goto(base + "login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORDS[name])
    with page.expect_navigation():
        page.click("button[type=submit], input[type=submit]")
    page.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
    return Page(page, base)


def _slow_run(seeded: dict[str, Any], hatchet: Any, tmp_path: Path) -> str:
    run_id = str(seeded["workflows"]["slow"].run_no_wait({"flag": str(tmp_path / "never")}))
    wait_until(lambda: str(hatchet.runs.get_status(run_id)) == "RUNNING", 15, "run RUNNING")
    return run_id


def test_a_viewer_cannot_cancel_even_by_forcing_the_button(
    login: Any, seeded: dict[str, Any], hatchet: Any, tmp_path: Path
) -> None:
    run_id = _slow_run(seeded, hatchet, tmp_path)
    p = login("vera").open(f"?page=run&id={run_id}")
    p.get_by_text("vera (viewer)").wait_for(timeout=15_000)
    cancel = p.get_by_role("button", name="Cancel run")
    assert cancel.is_disabled()
    p.evaluate(FORCE_ENABLE, "Cancel run")
    wait_until(cancel.is_enabled, 5, "the forced button enabled")
    cancel.click()
    refusal = "vera is a viewer: to cancel or replay runs you need the operator role"
    p.get_by_text(refusal).wait_for(timeout=10_000)
    assert str(hatchet.runs.get_status(run_id)) == "RUNNING"
    assert hatchet.audit.list() == []


def test_an_operator_cancels_and_the_audit_log_names_them(
    login: Any, seeded: dict[str, Any], hatchet: Any, tmp_path: Path
) -> None:
    run_id = _slow_run(seeded, hatchet, tmp_path)
    page = login("otto")
    p = page.open(f"?page=run&id={run_id}")
    p.get_by_role("button", name="Cancel run").click()
    wait_until(lambda: str(hatchet.runs.get_status(run_id)) == "CANCELLED", 15, "CANCELLED")
    # the audit row is written just after the cancel: wait for it too
    wait_until(lambda: hatchet.audit.list(), 15, "the audit entry")
    [entry] = hatchet.audit.list()
    assert (entry.actor, entry.role, entry.action, entry.target) == (
        "otto",
        "operator",
        "cancel",
        run_id,
    )
    p = page.open("?page=audit")
    row = p.locator(".tabulator-row", has_text=run_id)
    row.wait_for(timeout=15_000)
    assert "otto" in row.inner_text() and "cancel" in row.inner_text()
    assert page.errors == []


def test_triggering_a_cron_is_audited_with_its_id(
    login: Any, seeded: dict[str, Any], hatchet: Any
) -> None:
    cron_id = seeded["cron"].id
    p = login("otto").open("?page=triggers")
    row = p.locator(".tabulator-row", has_text="nightly")
    row.wait_for(timeout=15_000)
    row.locator(".tabulator-cell[tabulator-field='name']").click()
    p.get_by_role("button", name="Trigger cron now").click()
    p.get_by_text("started run").wait_for(timeout=10_000)
    [entry] = hatchet.audit.list()
    assert (entry.actor, entry.action, entry.target) == ("otto", "trigger_cron_now", cron_id)
    assert entry.detail["result"].startswith("started run")


def test_alerts_are_for_admins_only(login: Any, hatchet: Any) -> None:
    hatchet.alerts.set_slack("https://hooks.slack.example/T000/B000/secret")
    p = login("otto").open("?page=alerts")
    save = p.get_by_role("button", name="Save")
    save.wait_for(timeout=15_000)
    assert "secret" not in p.content()  # an operator does not see the webhook URL
    p.evaluate(FORCE_ENABLE, "Save")
    wait_until(save.is_enabled, 5, "the forced button enabled")
    save.click()
    refusal = "otto is an operator: to change alert settings you need the admin role"
    p.get_by_text(refusal).wait_for(timeout=10_000)
    p = login("ada").open("?page=alerts")
    p.get_by_role("button", name="Save").click()
    p.get_by_text("saved").wait_for(timeout=10_000)
    assert [(e.actor, e.action) for e in hatchet.audit.list()] == [("ada", "save_alerts")]


def _status_after_login(base: str, name: str, password: str, then: Any = None) -> tuple[str, str]:
    """Log in over HTTP, run ``then()``, open the runs page; (login error, final URL)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
    form = urllib.parse.urlencode({"username": name, "password": password}).encode()
    with opener.open(base + "login", data=form, timeout=20) as response:
        error = urllib.parse.parse_qs(urllib.parse.urlsplit(response.geturl()).query)
    if then is not None:
        then()
    with opener.open(base + "?page=runs", timeout=20) as response:
        return error.get("error", [""])[0], response.geturl()


def test_named_users_replace_the_shared_password(
    hatchet: Any, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dashboard.PASSWORD_ENV, "shared-password")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        error, url = _status_after_login(handle.url, "anyone", "shared-password")
        assert error == "Invalid username or password!" and "/login" in url
        error, url = _status_after_login(handle.url, "ada", PASSWORDS["ada"])
        assert error == "" and url.endswith("?page=runs")
    finally:
        handle.stop()


def test_logins_expire_and_end_when_the_user_is_removed(
    hatchet: Any, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # six seconds: the first look (right after logging in) must come before it ends, even
    # on a busy machine
    monkeypatch.setenv(dashboard.SESSION_HOURS_ENV, str(6 / 3600))
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        _, url = _status_after_login(handle.url, "vera", PASSWORDS["vera"])
        assert url.endswith("?page=runs")  # logged in
        _, url = _status_after_login(
            handle.url, "vera", PASSWORDS["vera"], then=lambda: time.sleep(7)
        )
        assert "/login" in url  # the login expired
        _, url = _status_after_login(
            handle.url, "otto", PASSWORDS["otto"], then=lambda: hatchet.users.remove("otto")
        )
        assert "/login" in url  # a removed user's login ends at once
    finally:
        handle.stop()


def test_viewers_can_be_kept_from_payloads(
    hatchet: Any,
    users: None,
    seeded: dict[str, Any],
    browser: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(dashboard.VIEWER_PAYLOADS_ENV, "off")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    context = browser.new_context()
    try:
        run = f"?page=run&id={seeded['tagged']}"
        p = _logged_in(context, handle.url, "vera").open(run)
        p.get_by_text("(hidden from viewers)").first.wait_for(timeout=15_000)
        p.get_by_text("extract").filter(visible=True).first.wait_for(timeout=15_000)
        assert '"day": 2' not in p.content() and '"loaded"' not in p.content()
        p = _logged_in(context, handle.url, "otto").open(run)
        p.get_by_text('"day": 2').first.wait_for(timeout=15_000)
        p.get_by_text('"loaded": 3').first.wait_for(timeout=15_000)
    finally:
        context.close()
        handle.stop()


# --- single sign-on through a reverse proxy ----------------------------------------------


def _open_page(base: str, headers: dict[str, str]) -> str:
    """The URL a plain GET of the runs page ends at (the login page when refused)."""
    request = urllib.request.Request(base + "?page=runs", headers=headers)
    with urllib.request.urlopen(request, timeout=20) as response:
        return str(response.geturl())


@pytest.fixture
def behind_proxy(
    hatchet: Any, users: None, seeded: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """The dashboard trusting X-Forwarded-User from 127.0.0.1 (where the tests connect from)."""
    monkeypatch.setenv(dashboard.TRUSTED_HEADER_ENV, "X-Forwarded-User")
    monkeypatch.setenv(dashboard.TRUSTED_PROXIES_ENV, "127.0.0.1/32, ::1")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    yield handle
    handle.stop()


def test_a_trusted_proxy_names_the_user(behind_proxy: Any) -> None:
    assert _open_page(behind_proxy.url, {"X-Forwarded-User": "otto"}).endswith("?page=runs")
    assert "/login" in _open_page(behind_proxy.url, {"X-Forwarded-User": "nobody"})
    assert "/login" in _open_page(behind_proxy.url, {})


def test_the_header_from_any_other_peer_is_ignored(
    hatchet: Any, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dashboard.TRUSTED_HEADER_ENV, "X-Forwarded-User")
    monkeypatch.setenv(dashboard.TRUSTED_PROXIES_ENV, "10.9.9.9")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        assert "/login" in _open_page(handle.url, {"X-Forwarded-User": "ada"})
    finally:
        handle.stop()


def test_a_trusted_header_needs_its_proxies(
    hatchet: Any, users: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatchnb import errors

    monkeypatch.setenv(dashboard.TRUSTED_HEADER_ENV, "X-Forwarded-User")
    monkeypatch.delenv(dashboard.TRUSTED_PROXIES_ENV, raising=False)
    with pytest.raises(errors.ConfigurationError, match="needs HATCHNB_DASHBOARD_TRUSTED_PROXIES"):
        dashboard.start_dashboard(hatchet, address="0.0.0.0")


def test_a_proxied_operator_acts_under_their_name(
    behind_proxy: Any, browser: Any, seeded: dict[str, Any], hatchet: Any, tmp_path: Path
) -> None:
    run_id = _slow_run(seeded, hatchet, tmp_path)
    context = browser.new_context(extra_http_headers={"X-Forwarded-User": "otto"})
    try:
        p = Page(context.new_page(), behind_proxy.url).open(f"?page=run&id={run_id}")
        p.get_by_text("otto (operator)").wait_for(timeout=15_000)
        p.get_by_role("button", name="Cancel run").click()
        wait_until(lambda: str(hatchet.runs.get_status(run_id)) == "CANCELLED", 15, "CANCELLED")
        assert [(e.actor, e.action) for e in hatchet.audit.list()] == [("otto", "cancel")]
    finally:
        context.close()
