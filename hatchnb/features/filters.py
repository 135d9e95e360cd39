"""``hatchet.filters``: an event reaches a workflow in a scope only through a filter whose
expression holds (when the workflow has filters in that scope)."""

from __future__ import annotations

import asyncio
import builtins
import json
from typing import Any

from pydantic import BaseModel

from hatchnb import errors, expressions, limits, serialization
from hatchnb.config import Settings
from hatchnb.features._params import ALL_ROWS, name_of, page
from hatchnb.records import Filter, Rows
from hatchnb.store import Store
from hatchnb.store.events import EventsRepo
from hatchnb.types import DefaultFilter, UpdateFilterRequest


class FiltersClient:
    """``hatchet.filters``: create, list and delete event filters."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._events = EventsRepo(store)
        self._settings = settings

    def create(
        self, workflow_id: Any, expression: str, scope: str, payload: dict[str, Any] | None = None
    ) -> Filter:
        expressions.compile_expression(expression)
        limit = self._settings.max_payload_bytes
        return self._events.create_filter(
            serialization.check_text(
                name_of(workflow_id, self._store, self._settings.namespace), "workflow"
            ),
            expression,
            serialization.check_text(scope, "scope"),
            json.loads(serialization.dump_json(payload or {}, "filter payload", limit)),
        )

    def list(
        self,
        limit: int | None = None,
        offset: int | None = None,
        workflow_ids: builtins.list[Any] | None = None,
        scopes: builtins.list[str] | None = None,
    ) -> Rows[Filter]:
        """Filters, of the given workflows (ids, names or objects) and scopes, or all."""
        names = {name_of(w, self._store, self._settings.namespace) for w in workflow_ids or []}
        scopes = limits.names(scopes, "scopes")
        found = [
            f
            for f in self._events.list_filters(None, ALL_ROWS)
            if (not names or f.workflow_name in names) and (not scopes or f.scope in scopes)
        ]
        return Rows(page(found, offset, limit if limit is not None else 100))

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[Filter]:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    def get(self, filter_id: str) -> Filter:
        found = self._events.get_filter(_id(filter_id, "filter"))
        if found is None:
            raise errors.HatchnbError(f"no filter has the id {filter_id}")
        return found

    def update(self, filter_id: str, updates: UpdateFilterRequest | dict[str, Any]) -> Filter:
        """Change a filter's expression, scope or payload (the fields ``updates`` sets)."""
        change = UpdateFilterRequest.model_validate(
            updates.model_dump() if isinstance(updates, BaseModel) else updates
        )
        if change.expression is not None:
            expressions.compile_expression(change.expression)
        scope = serialization.check_text(change.scope, "scope") if change.scope else None
        payload = None
        if change.payload is not None:
            limit = self._settings.max_payload_bytes
            payload = json.loads(serialization.dump_json(change.payload, "filter payload", limit))
        found = self._events.update_filter(
            _id(filter_id, "filter"), change.expression, scope, payload
        )
        if found is None:
            raise errors.HatchnbError(f"no filter has the id {filter_id}")
        return found

    async def aio_update(self, *args: Any, **kwargs: Any) -> Filter:
        return await asyncio.to_thread(self.update, *args, **kwargs)

    def ensure(self, workflow_name: str, wanted: builtins.list[DefaultFilter]) -> None:
        """Create the declared default filters the workflow does not have yet (same
        expression and scope); existing filters are left as they are."""
        if not wanted:
            return
        limit = self._settings.max_payload_bytes
        filters = [
            (
                f.expression,
                serialization.check_text(f.scope, "scope"),
                json.loads(serialization.dump_json(f.payload, "filter payload", limit)),
            )
            for f in wanted
        ]
        self._events.create_missing_filters(workflow_name, filters)

    def delete(self, filter_id: str) -> None:
        self._events.delete_filter(_id(filter_id, "filter"))

    # hatchet_sdk's async twins

    async def aio_get(self, *args: Any, **kwargs: Any) -> Filter:
        return await asyncio.to_thread(self.get, *args, **kwargs)

    async def aio_create(self, *args: Any, **kwargs: Any) -> Filter:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    async def aio_delete(self, *args: Any, **kwargs: Any) -> None:
        return await asyncio.to_thread(self.delete, *args, **kwargs)


def _id(value: str, what: str) -> str:
    return limits.id_text(value, f"a {what} id", f"the .id of what hatchet.{what}s.create returns")
