"""HTTP API tokens and the runs started over HTTP. Statements in ``sql/tokens.sql``."""

from __future__ import annotations

import uuid
from datetime import datetime

from hatchnb.records import ApiToken
from hatchnb.store.db import Store


class TokensRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def create(
        self, name: str, scope: str, token_hash: str, expires_at: datetime | None
    ) -> ApiToken | None:
        """The new token, or None when a live token has this name."""
        row = self._db.fetch_one(
            "create_api_token",
            name=name,
            scope=scope,
            token_hash=token_hash,
            expires_at=expires_at,
        )
        return ApiToken.from_row(row) if row else None

    def all_tokens(self) -> list[ApiToken]:
        return [ApiToken.from_row(r) for r in self._db.fetch_all("list_api_tokens")]

    def revoke(self, name: str) -> ApiToken | None:
        row = self._db.fetch_one("revoke_api_token", name=name)
        return ApiToken.from_row(row) if row else None

    def live(self, token_hash: str) -> ApiToken | None:
        """The live, unexpired token with this hash (its last use noted)."""
        row = self._db.fetch_one("use_api_token", token_hash=token_hash)
        row = row or self._db.fetch_one("find_api_token", token_hash=token_hash)
        return ApiToken.from_row(row) if row else None


class TriggersRepo:
    """Runs started over HTTP: by which token, under which idempotency key."""

    def __init__(self, store: Store) -> None:
        self._db = store

    def claim_key(self, token_id: int | None, key: str) -> int | None:
        """The claim's id, or None when the key is held (by a run, or one being started)."""
        with self._db.transaction() as tx:
            params = {"token_id": token_id, "idempotency_key": key}
            tx.execute(Store.query("forget_expired_trigger_key"), params)
            row = tx.execute(Store.query("claim_trigger_key"), params).fetchone()
        return int(row["id"]) if row else None

    def key_holder(self, token_id: int | None, key: str) -> tuple[bool, str | None]:
        """(whether the key is held, the run holding it: None while it is being started)."""
        row = self._db.fetch_one("trigger_key_holder", token_id=token_id, idempotency_key=key)
        if row is None:
            return False, None
        return True, None if row["run_id"] is None else str(row["run_id"])

    def release_key(self, claim_id: int) -> None:
        self._db.execute("release_trigger_key", id=claim_id)

    def set_run(self, claim_id: int, run_id: str) -> None:
        self._db.execute("set_trigger_run", id=claim_id, run_id=uuid.UUID(run_id))

    def record(self, token_id: int | None, run_id: str) -> None:
        self._db.execute("record_trigger", token_id=token_id, run_id=uuid.UUID(run_id))

    def started_by(self, token_id: int, run_id: str) -> bool:
        row = self._db.fetch_one("started_by_token", token_id=token_id, run_id=uuid.UUID(run_id))
        return bool(row and row["started"])
