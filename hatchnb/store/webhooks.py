"""Inbound webhooks (``hatchet.webhooks``). Statements in ``sql/webhooks.sql``; the events a
webhook pushes go through ``store/events.py`` like any other."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import datetime
from typing import Any

from hatchnb.store.db import Store, jsonb


@dataclasses.dataclass(frozen=True, kw_only=True)
class StoredWebhook:
    """A webhook row; ``secret`` is sealed (hatchnb/secret_box.py)."""

    id: str
    name: str
    source_name: str
    auth_type: str
    auth_settings: dict[str, str]
    secret: str = dataclasses.field(repr=False)
    event_key_expression: str
    scope_expression: str | None
    static_payload: dict[str, Any] | None
    return_event_as_response_payload: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StoredWebhook:
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in fields and k != "id"}, id=str(row["id"]))


@dataclasses.dataclass(frozen=True, kw_only=True)
class NewWebhook:
    name: str
    source_name: str
    auth_type: str
    auth_settings: dict[str, str]
    secret: str = dataclasses.field(repr=False)
    event_key_expression: str
    scope_expression: str | None
    static_payload: dict[str, Any] | None
    return_event_as_response_payload: bool


class WebhooksRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def create(self, new: NewWebhook) -> StoredWebhook | None:
        """The stored webhook, or None when a webhook has this name already."""
        params = dataclasses.asdict(new)
        params["auth_settings"] = jsonb(new.auth_settings)
        params["static_payload"] = _optional_json(new.static_payload)
        row = self._db.fetch_one("create_webhook", id=uuid.uuid4(), **params)
        return StoredWebhook.from_row(row) if row else None

    def get(self, name: str) -> StoredWebhook | None:
        row = self._db.fetch_one("get_webhook", name=name)
        return StoredWebhook.from_row(row) if row else None

    def list(
        self, names: list[str] | None, sources: list[str] | None, limit: int, offset: int
    ) -> list[StoredWebhook]:
        rows = self._db.fetch_all(
            "list_webhooks", names=names, sources=sources, limit=limit, offset=offset
        )
        return [StoredWebhook.from_row(r) for r in rows]

    def update(
        self,
        name: str,
        event_key_expression: str | None,
        scope_expression: str | None,
        static_payload: dict[str, Any] | None,
        return_event_as_response_payload: bool | None,
    ) -> StoredWebhook | None:
        row = self._db.fetch_one(
            "update_webhook",
            name=name,
            event_key_expression=event_key_expression,
            scope_expression=scope_expression,
            static_payload=_optional_json(static_payload),
            return_event_as_response_payload=return_event_as_response_payload,
        )
        return StoredWebhook.from_row(row) if row else None

    def replace_secret(self, name: str, old_secret: str, new_secret: str) -> bool:
        """Swap a sealed secret for its resealed form; False if it changed meanwhile."""
        row = self._db.fetch_one(
            "replace_webhook_secret", name=name, old_secret=old_secret, new_secret=new_secret
        )
        return row is not None

    def delete(self, name: str) -> StoredWebhook | None:
        row = self._db.fetch_one("delete_webhook", name=name)
        return StoredWebhook.from_row(row) if row else None


def _optional_json(value: dict[str, Any] | None) -> Any:
    return jsonb(value) if value is not None else None
