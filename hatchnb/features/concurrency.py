"""``hatchet.concurrency``: current usage of every concurrency key."""

from __future__ import annotations

from hatchnb import limits
from hatchnb.records import ConcurrencyKeyUsage
from hatchnb.store import Store
from hatchnb.store.flow import concurrency_usage


class ConcurrencyClient:
    """``hatchet.concurrency``: current usage of every concurrency key."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def list(self, workflow_name: str | None = None) -> list[ConcurrencyKeyUsage]:
        name = None if workflow_name is None else limits.check_name(workflow_name, "workflow_name")
        return concurrency_usage(self._store, name)
