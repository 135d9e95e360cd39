"""Dashboard users and the audit log. Statements in ``sql/users.sql``."""

from __future__ import annotations

from typing import Any

from hatchnb.records import AuditEntry, DashboardUser
from hatchnb.store.db import Store, jsonb


class UsersRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def add(self, name: str, role: str, password_hash: str) -> DashboardUser | None:
        """The new user, or None when the name is taken."""
        row = self._db.fetch_one(
            "add_dashboard_user", name=name, role=role, password_hash=password_hash
        )
        return DashboardUser.from_row(row) if row else None

    def get_with_hash(self, name: str) -> tuple[DashboardUser, str] | None:
        row = self._db.fetch_one("get_dashboard_user", name=name)
        return (DashboardUser.from_row(row), row["password_hash"]) if row else None

    def all_users(self) -> list[DashboardUser]:
        return [DashboardUser.from_row(r) for r in self._db.fetch_all("list_dashboard_users")]

    def count(self) -> int:
        row = self._db.fetch_one("count_dashboard_users")
        return int(row["n"]) if row else 0

    def set_role(self, name: str, role: str) -> DashboardUser | None:
        row = self._db.fetch_one("set_dashboard_user_role", name=name, role=role)
        return DashboardUser.from_row(row) if row else None

    def set_password(self, name: str, password_hash: str) -> DashboardUser | None:
        row = self._db.fetch_one(
            "set_dashboard_user_password", name=name, password_hash=password_hash
        )
        return DashboardUser.from_row(row) if row else None

    def remove(self, name: str) -> bool:
        return self._db.fetch_one("remove_dashboard_user", name=name) is not None


class AuditRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def record(
        self, actor: str, role: str, action: str, target: str, detail: dict[str, Any]
    ) -> AuditEntry:
        row = self._db.fetch_one(
            "record_audit_entry",
            actor=actor,
            role=role,
            action=action,
            target=target,
            detail=jsonb(detail),
        )
        assert row is not None  # INSERT ... RETURNING always returns its row
        return AuditEntry.from_row(row)

    def newest(self, limit: int) -> list[AuditEntry]:
        rows = self._db.fetch_all("list_audit_entries", limit=limit)
        return [AuditEntry.from_row(r) for r in rows]
