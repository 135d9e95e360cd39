"""TODO"""

from __future__ import annotations

from hatchnb.records import ConcurrencyKeyUsage
from hatchnb.store import Store


class ConcurrencyClient:
    """``hatchet.concurrency``: current usage of every concurrency key."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, workflow_name: str | None = None) -> list[ConcurrencyKeyUsage]:
        return [
            ConcurrencyKeyUsage(**row)
            for row in self._store.fetch_all("list_concurrency_keys", workflow=workflow_name)
        ]
