"""``hatchet.scheduled``: one-off runs at a given time."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from hatchnb import errors, serialization
from hatchnb.config import Settings
from hatchnb.features._params import json_value, metadata_value, name_of
from hatchnb.records import ScheduledRun
from hatchnb.store import Store
from hatchnb.store.triggers import SchedulesRepo


class ScheduledClient:
    """``hatchet.scheduled``."""

    def __init__(self, store: Store, settings: Settings) -> None:
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
            serialization.check_text(name_of(workflow_name), "workflow"),
            trigger_at,
            json_value(input, self._settings.max_payload_bytes),
            metadata_value(additional_metadata),
            priority,
        )

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self, workflow_name: Any = None, limit: int = 100, offset: int = 0
    ) -> list[ScheduledRun]:
        name = name_of(workflow_name) if workflow_name else None
        return self._schedules.list_scheduled(name, limit, offset)

    def get(self, scheduled_id: str) -> ScheduledRun:
        return self._schedules.get_scheduled(scheduled_id)

    def delete(self, scheduled_id: str) -> None:
        self._schedules.delete_scheduled(scheduled_id)

    def trigger_now(self, scheduled_id: str) -> None:
        """Move a scheduled run that has not started to now (the engine starts it); a failed
        one (see ``error``) is tried again."""
        if not self._schedules.trigger_now(scheduled_id):
            raise errors.HatchnbError(f"no pending scheduled run has the id {scheduled_id}")
