"""``hatchnb tokens create | list | revoke``: bearer tokens of the HTTP API
(``hatchet.tokens``). ``create`` prints the token once; only its hash is stored."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from hatchnb.config import parse_duration
from hatchnb.records import ApiToken, TokenScope

if TYPE_CHECKING:
    from hatchnb import Hatchet


def _lifetime(text: str) -> timedelta | None:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tokens = sub.add_parser("tokens", help="bearer tokens of the HTTP API")
    actions = tokens.add_subparsers(dest="tokens_command", required=True)
    create = actions.add_parser("create", help="create a token and print it (once)")
    create.add_argument("--name", required=True)
    create.add_argument("--scope", choices=[s.value for s in TokenScope], required=True)
    create.add_argument(
        "--expires",
        type=_lifetime,
        default=None,
        metavar="DURATION",
        help="e.g. 30d, 12h (default: never)",
    )
    actions.add_parser("list", help="every token (never the secrets)")
    actions.add_parser("revoke", help="revoke a token at once").add_argument("name")


def run(args: argparse.Namespace, client: Hatchet) -> int:
    from hatchnb import errors

    try:
        print(_do(args, client))
    except errors.HatchnbError as exc:
        print(f"hatchnb tokens {args.tokens_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _do(args: argparse.Namespace, client: Hatchet) -> str:
    tokens = client.tokens
    if args.tokens_command == "create":
        secret, token = tokens.create(args.name, args.scope, args.expires)
        until = f", expires {token.expires_at:%Y-%m-%d %H:%M %Z}" if token.expires_at else ""
        print(f"token {token.name} ({token.scope}{until}); it is shown only now:", file=sys.stderr)
        return secret
    if args.tokens_command == "revoke":
        return f"revoked {tokens.revoke(args.name).name}"
    rows = [
        "\t".join(
            (
                t.name,
                t.scope.value,
                _state(t),
                f"created {t.created_at:%Y-%m-%d %H:%M}",
                f"expires {t.expires_at:%Y-%m-%d %H:%M}" if t.expires_at else "no expiry",
                f"last used {t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "never used",
            )
        )
        for t in tokens.list()
    ]
    return "\n".join(rows) or "no API tokens: hatchnb tokens create --name NAME --scope read"


def _state(token: ApiToken) -> str:
    if token.revoked_at:
        return "revoked"
    expired = token.expires_at is not None and token.expires_at <= datetime.now(UTC)
    return "expired" if expired else "live"
