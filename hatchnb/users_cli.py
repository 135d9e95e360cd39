"""``hatchnb users add | passwd | role | remove | list``: the dashboard's named users
(``hatchet.users``). Passwords are read from a prompt, or with ``--password-stdin`` from
the first line of standard input (for scripts); never from the command line, where other
users of the machine could read them."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hatchnb import Hatchet

ROLES = ("viewer", "operator", "admin")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = sub.add_parser("users", help="named dashboard users and their roles")
    actions = users.add_subparsers(dest="users_command", required=True)
    add = actions.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    passwd = actions.add_parser("passwd", help="set a user's password")
    passwd.add_argument("name")
    for parser in (add, passwd):
        parser.add_argument(
            "--password-stdin", action="store_true", help="read the password from stdin"
        )
    role = actions.add_parser("role", help="change a user's role")
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    actions.add_parser("remove", help="delete a user").add_argument("name")
    actions.add_parser("list", help="every user and role")


def run(args: argparse.Namespace, client: Hatchet) -> int:
    from hatchnb import errors

    try:
        print(_do(args, client))
    except (errors.InvalidUser, errors.UserNotFound, EOFError) as exc:
        print(f"hatchnb users {args.users_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _do(args: argparse.Namespace, client: Hatchet) -> str:
    users = client.users
    command = args.users_command
    if command == "add":
        user = users.add(args.name, args.role, _password(args.password_stdin))
        _audit(client, "add_user", args.name, role=args.role)
        return f"added {user.name} ({user.role})"
    if command == "passwd":
        users.set_password(args.name, _password(args.password_stdin))
        _audit(client, "set_password", args.name)
        return f"password of {args.name} changed"
    if command == "role":
        role = users.set_role(args.name, args.role).role
        _audit(client, "set_role", args.name, role=args.role)
        return f"{args.name} is now {role}"
    if command == "remove":
        users.remove(args.name)
        _audit(client, "remove_user", args.name)
        return f"removed {args.name}"
    rows = [f"{u.name}\t{u.role}\t{u.created_at:%Y-%m-%d %H:%M}" for u in users.list()]
    return "\n".join(rows) or "no dashboard users: the shared password logs in"


def _audit(client: Hatchet, action: str, name: str, **detail: str) -> None:
    """Changes to users go to the dashboard's audit log, by the account that ran them."""
    client.audit.record(f"{_os_user()} (command line)", "cli", action, name, detail)


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER variable and no passwd entry (some containers)
        return "unknown"


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        if not line:
            raise EOFError("no password on standard input")
        return line.rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise EOFError("the two passwords differ")
    return first
