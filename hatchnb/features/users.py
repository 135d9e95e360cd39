"""``hatchet.users`` (who may log in to the dashboard, with which role) and
``hatchet.audit`` (what they did there). Not in hatchet_sdk: Hatchet keeps users and roles
in its API server; hatchnb keeps them in its schema (docs/security.md)."""

from __future__ import annotations

import builtins
from typing import Any

from hatchnb import errors, passwords
from hatchnb.records import AuditEntry, DashboardUser, Role
from hatchnb.store import Store
from hatchnb.store.users import AuditRepo, UsersRepo

MAX_NAME = 64


def check_name(name: str) -> str:
    if not 0 < len(name) <= MAX_NAME or not name.isprintable() or any(c.isspace() for c in name):
        raise errors.InvalidUser(
            f"user name {name[:80]!r}: use 1-{MAX_NAME} printable characters without spaces"
        )
    return name


def check_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise errors.InvalidUser(f"role {role!r}: choose one of {choices}") from None


def _hash(password: str) -> str:
    try:
        return passwords.hash_password(password)
    except passwords.WeakPassword as exc:
        raise errors.InvalidUser(str(exc)) from None


class UsersClient:
    """``hatchet.users``: the dashboard's named users. Once one exists, the dashboard asks
    for a user name and that user's password, and the shared HATCHNB_DASHBOARD_PASSWORD no
    longer logs in."""

    def __init__(self, store: Store) -> None:
        self._users = UsersRepo(store)

    def add(self, name: str, role: str | Role, password: str) -> DashboardUser:
        """A new user (InvalidUser when the name is taken)."""
        user = self._users.add(check_name(name), check_role(role).value, _hash(password))
        if user is None:
            raise errors.InvalidUser(f"there is already a user named {name!r}")
        return user

    def set_role(self, name: str, role: str | Role) -> DashboardUser:
        return self._found(self._users.set_role(name, check_role(role).value), name)

    def set_password(self, name: str, password: str) -> DashboardUser:
        """A new password; logins made with the old one stay valid until they expire."""
        return self._found(self._users.set_password(name, _hash(password)), name)

    def remove(self, name: str) -> None:
        """Delete a user; their open logins stop working at once."""
        if not self._users.remove(name):
            raise errors.UserNotFound(f"no dashboard user is named {name!r}")

    def get(self, name: str) -> DashboardUser | None:
        found = self._users.get_with_hash(name)
        return found[0] if found else None

    def list(self) -> builtins.list[DashboardUser]:
        return self._users.all_users()

    def any(self) -> bool:
        """Whether named users exist (then they, not the shared password, log in)."""
        return self._users.count() > 0

    def authenticate(self, name: str, password: str) -> DashboardUser | None:
        """The user, if ``password`` is theirs. An unknown name costs as much time as a
        wrong password, so the answer does not tell which names exist."""
        found = self._users.get_with_hash(name)
        if found is None:
            passwords.burn_time(password)
            return None
        user, stored = found
        return user if passwords.verify_password(password, stored) else None

    @staticmethod
    def _found(user: DashboardUser | None, name: str) -> DashboardUser:
        if user is None:
            raise errors.UserNotFound(f"no dashboard user is named {name!r}")
        return user


class AuditClient:
    """``hatchet.audit``: the log of actions taken from the dashboard, newest first."""

    def __init__(self, store: Store) -> None:
        self._audit = AuditRepo(store)

    def record(
        self,
        actor: str,
        role: str,
        action: str,
        target: str = "",
        detail: dict[str, Any] | None = None,
    ) -> AuditEntry:
        return self._audit.record(actor, role, action, target, detail or {})

    def list(self, limit: int = 200) -> builtins.list[AuditEntry]:
        return self._audit.newest(limit)
