"""TODO"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

from hatchnb import errors, serialization
from hatchnb.config import Settings
from hatchnb.features._params import json_param, metadata_param, name_of
from hatchnb.records import ScheduledRun
from hatchnb.store import Store


class ScheduledClient:
    """``hatchet.scheduled``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
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
        row = self._store.fetch_one(
            "create_scheduled",
            id=uuid.uuid4(),
            workflow_name=serialization.check_text(name_of(workflow_name), "workflow"),
            run_at=trigger_at,
            input=json_param(input, self._settings.max_payload_bytes),
            additional_metadata=metadata_param(additional_metadata),
            priority=priority,
        )
        assert row is not None
        return ScheduledRun.from_row(row)

    async def aio_create(self, *args: Any, **kwargs: Any) -> ScheduledRun:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self, workflow_name: Any = None, limit: int = 100, offset: int = 0
    ) -> list[ScheduledRun]:
        rows = self._store.fetch_all(
            "list_scheduled",
            workflow_name=name_of(workflow_name) if workflow_name else None,
            limit=limit,
            offset=offset,
        )
        return [ScheduledRun.from_row(r) for r in rows]

    def get(self, scheduled_id: str) -> ScheduledRun:
        row = self._store.fetch_one("get_scheduled", id=scheduled_id)
        if row is None:
            raise errors.HatchnbError(f"no scheduled run has the id {scheduled_id}")
        return ScheduledRun.from_row(row)

    def delete(self, scheduled_id: str) -> None:
        self._store.fetch_one("delete_scheduled", id=scheduled_id)

    def trigger_now(self, scheduled_id: str) -> None:
        """Move a scheduled run that has not started to now (the engine starts it); a failed
        one (see ``error``) is tried again."""
        if self._store.fetch_one("trigger_scheduled_now", id=scheduled_id) is None:
            raise errors.HatchnbError(f"no pending scheduled run has the id {scheduled_id}")
