"""Rate limits and concurrency keys. Statements in ``sql/flow_control.sql``."""

from __future__ import annotations

from typing import Any

from hatchnb.records import ConcurrencyKeyUsage, RateLimitUsage
from hatchnb.store.db import Row, Store, Tx


class RateLimitsRepo:
    """Rate limit lookups while runs are created (``flow_control.RateLimitLookup``); each
    answer is remembered, since the runs of one bulk trigger mostly share their keys."""

    def __init__(self, store: Store | None = None, tx: Tx | None = None) -> None:
        self._store = store
        self._tx = tx
        self._answers: dict[tuple[Any, ...], Row | None] = {}

    def _one(self, name: str, **params: Any) -> Row | None:
        key = (name, *sorted(params.items()))
        if key not in self._answers:
            if self._tx is not None:
                self._answers[key] = self._tx.execute(Store.query(name), params).fetchone()
            elif self._store is not None:
                self._answers[key] = self._store.fetch_one(name, **params)
        return self._answers[key]

    def ensure(self, key: str, limit: int, duration: str) -> None:
        """A dynamic key's limit, created on first use."""
        self._one("ensure_rate_limit", key=key, limit=limit, duration=duration)

    def limit_of(self, key: str) -> int | None:
        row = self._one("get_rate_limit", key=key)
        return int(row["limit_value"]) if row else None

    def put(self, key: str, limit: int, duration: str) -> None:
        if self._store is not None:
            self._store.execute("put_rate_limit", key=key, limit=limit, duration=duration)

    def usage(self) -> list[RateLimitUsage]:
        rows = self._store.fetch_all("list_rate_limits") if self._store else []
        return [
            RateLimitUsage(
                key=r["key"],
                limit=r["limit_value"],
                duration=r["duration"],
                used=r["used"],
                window_start=r["window_start"],
                queued=r["queued"],
            )
            for r in rows
        ]


def concurrency_usage(store: Store, workflow_name: str | None) -> list[ConcurrencyKeyUsage]:
    rows = store.fetch_all("list_concurrency_keys", workflow=workflow_name)
    return [ConcurrencyKeyUsage(**r) for r in rows]
