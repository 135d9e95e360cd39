"""Database access: named queries, migrations, sync and async connection pools."""

from __future__ import annotations

from hatchnb.store.db import (
    AsyncStore,
    Store,
    Tx,
    connect,
    connect_async,
    jsonb,
    wrap_errors,
)
from hatchnb.store.migrate import SCHEMA_VERSION, migrate

__all__ = [
    "SCHEMA_VERSION",
    "AsyncStore",
    "Store",
    "Tx",
    "connect",
    "connect_async",
    "jsonb",
    "migrate",
    "wrap_errors",
]
