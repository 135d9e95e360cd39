"""Named dashboard users (``hatchet.users``, ``hatchnb users``) and the audit log
(``hatchet.audit``) against a real database."""

from __future__ import annotations

import io
from typing import Any

import pytest

from hatchnb import cli, errors
from hatchnb.records import Role

pytestmark = pytest.mark.integration


def test_users_are_added_authenticated_changed_and_removed(hatchet: Any) -> None:
    users = hatchet.users
    assert not users.any()
    alice = users.add("alice", "operator", "alice's password")
    assert (alice.name, alice.role) == ("alice", Role.OPERATOR)
    assert users.any()
    assert users.authenticate("alice", "alice's password") == alice
    assert users.authenticate("alice", "wrong password") is None
    assert users.authenticate("nobody", "alice's password") is None
    with pytest.raises(errors.InvalidUser, match="already a user named 'alice'"):
        users.add("alice", "admin", "another password")
    assert users.set_role("alice", "viewer").role is Role.VIEWER
    users.set_password("alice", "a new password")
    assert users.authenticate("alice", "alice's password") is None
    assert users.authenticate("alice", "a new password") is not None
    assert [u.name for u in users.list()] == ["alice"]
    users.remove("alice")
    assert users.get("alice") is None
    with pytest.raises(errors.UserNotFound):
        users.remove("alice")


def test_the_database_keeps_only_a_hash(hatchet: Any, db: Any) -> None:
    hatchet.users.add("bob", "admin", "bob's secret pw")
    row = db.execute("SELECT password_hash FROM hatchnb.dashboard_users").fetchone()
    assert row["password_hash"].startswith("scrypt$131072$8$1$")
    assert "secret" not in row["password_hash"]


def test_the_audit_log_lists_newest_first(hatchet: Any) -> None:
    hatchet.audit.record("alice", "operator", "cancel", "run-1", {"runs": 1})
    hatchet.audit.record("bob", "admin", "save_alerts")
    entries = hatchet.audit.list()
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("bob", "save_alerts", ""),
        ("alice", "cancel", "run-1"),
    ]
    assert entries[1].detail == {"runs": 1}


def _users_cli(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return cli.main(["users", *argv])


def test_the_users_command(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ("add", "carol", "--role", "viewer", "--password-stdin")
    assert _users_cli(monkeypatch, *add, stdin="carol's password\n") == 0
    assert "added carol (viewer)" in capsys.readouterr().out
    assert hatchet.users.authenticate("carol", "carol's password") is not None
    assert _users_cli(monkeypatch, "role", "carol", "operator") == 0
    assert _users_cli(monkeypatch, "list") == 0
    assert "carol\toperator" in capsys.readouterr().out
    assert _users_cli(monkeypatch, *add, stdin="short\n") == 2
    assert "at least 8 characters" in capsys.readouterr().err
    assert _users_cli(monkeypatch, "remove", "nobody") == 2
    assert "no dashboard user is named 'nobody'" in capsys.readouterr().err
    assert _users_cli(monkeypatch, "remove", "carol") == 0
    assert hatchet.users.list() == []
    changes = [(e.action, e.target, e.role) for e in reversed(hatchet.audit.list())]
    assert changes == [
        ("add_user", "carol", "cli"),
        ("set_role", "carol", "cli"),
        ("remove_user", "carol", "cli"),
    ]
    assert hatchet.audit.list()[0].actor.endswith("(command line)")
