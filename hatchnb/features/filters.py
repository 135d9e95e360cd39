"""``hatchet.filters``: an event reaches a workflow in a scope only through a filter whose
expression holds (when the workflow has filters in that scope)."""

from __future__ import annotations

import json
from typing import Any

from hatchnb import expressions, serialization
from hatchnb.config import Settings
from hatchnb.features._params import name_of
from hatchnb.records import Filter
from hatchnb.store import Store
from hatchnb.store.events import EventsRepo


class FiltersClient:
    """``hatchet.filters``: create, list and delete event filters."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._events = EventsRepo(store)
        self._settings = settings

    def create(
        self, workflow_id: Any, expression: str, scope: str, payload: dict[str, Any] | None = None
    ) -> Filter:
        expressions.compile_expression(expression)
        limit = self._settings.max_payload_bytes
        return self._events.create_filter(
            serialization.check_text(name_of(workflow_id), "workflow"),
            expression,
            serialization.check_text(scope, "scope"),
            json.loads(serialization.dump_json(payload or {}, "filter payload", limit)),
        )

    def list(self, workflow_id: Any = None, limit: int = 100) -> list[Filter]:
        return self._events.list_filters(name_of(workflow_id) if workflow_id else None, limit)

    def delete(self, filter_id: str) -> None:
        self._events.delete_filter(filter_id)
