"""``hatchet.scheduled``: one-off runs at a given time."""

from __future__ import annotations

import asyncio
import builtins
from datetime import datetime
from typing import Any

from hatchnb import errors, serialization
from hatchnb.config import Settings
from hatchnb.features._params import (
    ALL_ROWS,
    json_value,
    metadata_matches,
    metadata_value,
    name_of,
    page,
    refuse_ordering,
)
from hatchnb.records import Rows, ScheduledRun
from hatchnb.store import Store
from hatchnb.store.triggers import SchedulesRepo


class ScheduledClient:
    """``hatchet.scheduled``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._schedules = SchedulesRepo(store)
        self._settings = settings

    def create(
        self,
        workflow_name: Any,
        trigger_at: datetime,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> ScheduledRun:
        if trigger_at.tzinfo is None:
            raise ValueError(
                f"trigger_at={trigger_at!r} has no time zone; pass an aware datetime, e.g. "
                "datetime.now(timezone.utc) + timedelta(minutes=5)"
            )
        return self._schedules.create(
            serialization.check_text(name_of(workflow_name, self._store), "workflow"),
            trigger_at,
            json_value(input, self._settings.max_payload_bytes),
            metadata_value(additional_metadata),
            priority,
        )

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        workflow_id: Any = None,
        parent_workflow_run_id: str | None = None,
        statuses: builtins.list[Any] | None = None,
        additional_metadata: dict[str, Any] | None = None,
        order_by_field: Any = None,
        order_by_direction: Any = None,
        *,
        workflow_name: Any = None,
    ) -> Rows[ScheduledRun]:
        """Scheduled runs, of one workflow (by id, name or object) or all; hatchet_sdk's
        parameters (``parent_workflow_run_id`` and ``statuses`` are not supported yet)."""
        refuse_ordering(order_by_field, order_by_direction)
        if parent_workflow_run_id is not None or statuses is not None:
            raise NotImplementedError(
                "parent_workflow_run_id= and statuses= are not supported by this hatchnb "
                "version: filter the rows by .workflow_run_id / .error yourself"
            )
        workflow = workflow_id or workflow_name
        name = name_of(workflow, self._store) if workflow else None
        schedules = [
            s
            for s in self._schedules.list_scheduled(name, ALL_ROWS, 0)
            if metadata_matches(s.additional_metadata, additional_metadata)
        ]
        return Rows(page(schedules, offset, limit if limit is not None else 100))

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[ScheduledRun]:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    def get(self, scheduled_id: str) -> ScheduledRun:
        return self._schedules.get_scheduled(scheduled_id)

    def delete(self, scheduled_id: str) -> None:
        self._schedules.delete_scheduled(scheduled_id)

    def trigger_now(self, scheduled_id: str) -> None:
        """Move a scheduled run that has not started to now (the engine starts it); a failed
        one (see ``error``) is tried again."""
        if not self._schedules.trigger_now(scheduled_id):
            raise errors.HatchnbError(f"no pending scheduled run has the id {scheduled_id}")

    # hatchet_sdk's async twins

    async def aio_delete(self, *args: Any, **kwargs: Any) -> None:
        return await asyncio.to_thread(self.delete, *args, **kwargs)

    async def aio_get(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.get, *args, **kwargs)
