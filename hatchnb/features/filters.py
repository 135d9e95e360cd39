"""TODO"""

from __future__ import annotations

import json
import uuid
from typing import Any

from psycopg.types.json import Jsonb

from hatchnb import expressions, serialization
from hatchnb.config import Settings
from hatchnb.features._params import name_of
from hatchnb.records import Filter
from hatchnb.store import Store


class FiltersClient:
    """``hatchet.filters``: an event reaches a workflow in a scope only through a filter whose
    expression holds (when the workflow has filters in that scope)."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._settings = settings

    def create(
        self, workflow_id: Any, expression: str, scope: str, payload: dict[str, Any] | None = None
    ) -> Filter:
        expressions.compile_expression(expression)
        limit = self._settings.max_payload_bytes
        row = self._store.fetch_one(
            "create_filter",
            id=uuid.uuid4(),
            workflow_name=serialization.check_text(name_of(workflow_id), "workflow"),
            expression=expression,
            scope=serialization.check_text(scope, "scope"),
            payload=Jsonb(
                json.loads(serialization.dump_json(payload or {}, "filter payload", limit))
            ),
        )
        assert row is not None
        return Filter.from_row(row)

    def list(self, workflow_id: Any = None, limit: int = 100) -> list[Filter]:
        rows = self._store.fetch_all(
            "list_filters",
            workflow_name=name_of(workflow_id) if workflow_id else None,
            limit=limit,
        )
        return [Filter.from_row(r) for r in rows]

    def delete(self, filter_id: str) -> None:
        self._store.fetch_one("delete_filter", id=filter_id)
