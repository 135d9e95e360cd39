"""Who a dashboard login cookie or session names (``hatchnb.dashboard.auth.Access``), with a
stand-in for ``hatchet.users``."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from tornado.web import create_signed_value

from hatchnb.dashboard.auth import LOCAL, Access, Identity
from hatchnb.records import DashboardUser, Role

SECRET = "cookie-secret"


class Users:
    """``hatchet.users`` holding named users, without a database."""

    def __init__(self, **roles: Role) -> None:
        now = datetime.now(UTC)
        self.known = {
            name: DashboardUser(name=name, role=role, created_at=now, updated_at=now)
            for name, role in roles.items()
        }

    def any(self) -> bool:
        return bool(self.known)

    def get(self, name: str) -> DashboardUser | None:
        return self.known.get(name)


class Client:
    def __init__(self, users: Users) -> None:
        self.users = users


def access(users: Users, *, enabled: bool = True, password: str | None = None) -> Access:
    client: Any = Client(users)
    return Access(client, enabled, password, SECRET, session_hours=1.0)


def cookie(value: str, secret: str = SECRET) -> bytes:
    return create_signed_value(secret, "user", value)


def test_a_fresh_cookie_names_its_user_with_their_role_now() -> None:
    users = Users(vera=Role.VIEWER)
    gate = access(users)
    value = cookie(gate.cookie_value("vera"))
    assert gate.identify(value) == Identity("vera", Role.VIEWER)
    users.known["vera"] = DashboardUser(
        name="vera", role=Role.ADMIN, created_at=datetime.now(UTC), updated_at=datetime.now(UTC)
    )
    assert gate.identify(value) == Identity("vera", Role.ADMIN)
    del users.known["vera"]
    assert gate.identify(value) is None


@pytest.mark.parametrize(
    "value",
    [
        cookie('{"user": "vera", "at": 0}'),  # logged in long ago
        cookie('{"user": "vera", "at": "now"}'),
        cookie('{"at": 1e18}'),
        cookie("vera"),  # not JSON: a cookie from before logins carried their time
        cookie('{"user": "vera", "at": 1e18}', secret="another secret"),
        b"garbage",
        None,
    ],
)
def test_expired_malformed_or_forged_cookies_name_nobody(value: bytes | None) -> None:
    gate = access(Users(vera=Role.VIEWER))
    assert gate.session_claims(value) == {}
    assert gate.identify(value) is None


def test_session_claims_expire_like_the_cookie() -> None:
    gate = access(Users(vera=Role.VIEWER))
    claims = gate.session_claims(cookie(gate.cookie_value("vera")))
    assert gate.identify_session(claims) == Identity("vera", Role.VIEWER)
    assert gate.identify_session({**claims, "at": time.time() - 3601}) is None
    assert gate.identify_session({}) is None


def test_without_users_the_shared_password_logs_in_as_an_admin() -> None:
    gate = access(Users(), password="shared password")
    assert gate.login("anyone", "shared password") == Identity("anyone", Role.ADMIN)
    assert gate.login("anyone", "wrong") is None
    assert access(Users(), password=None).login("anyone", "") is None


def test_a_dashboard_without_logins_acts_as_local() -> None:
    gate = access(Users(), enabled=False)
    assert gate.identify(None) is LOCAL
    assert gate.identify_session({}) is LOCAL
