"""``hatchet.tokens``: bearer tokens of the HTTP API (``hatchnb/api``), and the ledger of
the runs started over HTTP (which token started each; idempotency keys). Not in
hatchet_sdk: Hatchet keeps API tokens in its API server."""

from __future__ import annotations

import builtins
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hatchnb import errors, limits
from hatchnb.features.users import check_name
from hatchnb.records import ApiToken, TokenScope
from hatchnb.store import Store
from hatchnb.store.tokens import TokensRepo, TriggersRepo

#: every token starts with this, so a leaked one is easy to recognise (secret scanners)
PREFIX = "hnb_"
#: idempotency keys longer than this are refused (they are stored and indexed)
MAX_KEY = 255


class InvalidToken(errors.HatchnbError, ValueError):
    """A token name, scope or lifetime that cannot be used."""


class TokenNotFound(errors.NotFound):
    """No live token has this name."""


class TriggerInProgress(errors.HatchnbError):
    """A run with this idempotency key is being started right now; retry in a moment."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def check_scope(scope: str | TokenScope) -> TokenScope:
    try:
        return TokenScope(scope)
    except ValueError:
        choices = ", ".join(s.value for s in TokenScope)
        raise InvalidToken(f"scope {limits.shown(scope)}: choose one of {choices}") from None


def check_idempotency_key(key: str) -> str:
    if not 0 < len(key) <= MAX_KEY or not key.isprintable():
        raise errors.InvalidArgument(
            f"idempotency key {limits.shown(key)}: use 1-{MAX_KEY} printable characters"
        )
    return key


class TokensClient:
    """``hatchet.tokens``: create (the secret is returned once), list, revoke, and check
    the tokens HTTP API callers present."""

    def __init__(self, store: Store) -> None:
        self._tokens = TokensRepo(store)
        self._triggers = TriggersRepo(store)

    def create(
        self, name: str, scope: str | TokenScope, expires_in: timedelta | None = None
    ) -> tuple[str, ApiToken]:
        """``(secret, token)``: the secret is not stored (only its hash) and cannot be shown
        again. ``InvalidToken`` when a live token already has the name."""
        name = _check_token_name(name)
        expires_at = None
        if expires_in is not None:
            if expires_in <= timedelta(0):
                raise InvalidToken(f"expires_in={expires_in}: pass a positive duration")
            expires_at = datetime.now(UTC) + expires_in
        secret = PREFIX + secrets.token_urlsafe(32)
        token = self._tokens.create(name, check_scope(scope).value, token_hash(secret), expires_at)
        if token is None:
            raise InvalidToken(
                f"there is already a live token named {name!r}; revoke it first or pick "
                "another name"
            )
        return secret, token

    def list(self) -> builtins.list[ApiToken]:
        """Every token, newest first, revoked and expired ones too."""
        return self._tokens.all_tokens()

    def revoke(self, name: str) -> ApiToken:
        """Revoke the live token with this name; calls with it fail at once."""
        token = self._tokens.revoke(name)
        if token is None:
            raise TokenNotFound(f"no live API token is named {limits.shown(name)}")
        return token

    def authenticate(self, secret: str) -> ApiToken | None:
        """The live, unexpired token whose secret this is (None otherwise)."""
        if not secret.startswith(PREFIX) or len(secret) > 200:
            return None
        return self._tokens.live(token_hash(secret))

    # ---- the runs started over HTTP -------------------------------------------------

    def start_run(
        self, start: Callable[[], str], token_id: int | None, idempotency_key: str | None
    ) -> tuple[str, bool]:
        """``(run id, started now)``: calls ``start`` (which starts a run, returning its
        id) and records which token started it. With an idempotency key held by an earlier
        call (within 24 hours) nothing is started and that call's run id is returned."""
        if idempotency_key is None:
            run_id = start()
            self._triggers.record(token_id, run_id)
            return run_id, True
        key = check_idempotency_key(idempotency_key)
        claim = self._triggers.claim_key(token_id, key)
        if claim is None:
            return self._holder(token_id, key), False
        try:
            run_id = start()
        except BaseException:
            self._triggers.release_key(claim)
            raise
        self._triggers.set_run(claim, run_id)
        return run_id, True

    def _holder(self, token_id: int | None, key: str) -> str:
        held, run_id = self._triggers.key_holder(token_id, key)
        if held and run_id is not None:
            return run_id
        if not held:  # released between the claim and this read: the caller may retry
            raise TriggerInProgress("the run of this idempotency key failed to start; retry")
        raise TriggerInProgress(
            "a run with this idempotency key is being started right now; retry in a moment"
        )

    def record_runs(self, token_id: int | None, run_ids: builtins.list[str]) -> None:
        """Runs a token started another way (the events it pushed): it may read them."""
        for run_id in run_ids:
            self._triggers.record(token_id, run_id)

    def started_by(self, token_id: int, run_id: str) -> bool:
        """Whether the token started the run over HTTP."""
        return self._triggers.started_by(token_id, run_id)


def _check_token_name(name: str) -> str:
    try:
        return check_name(name)
    except errors.InvalidUser as exc:
        raise InvalidToken(str(exc).replace("user name", "token name")) from None
