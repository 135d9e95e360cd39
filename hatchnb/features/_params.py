"""Parameters shared by the trigger clients (crons, schedules, events, filters)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from hatchnb import errors, ids, limits, serialization
from hatchnb.store import Store
from hatchnb.store.versions import VersionsRepo
from hatchnb.types import namespaced

T = TypeVar("T")

#: the most rows a list filtered in Python reads (crons, schedules and filters are few)
ALL_ROWS = 100_000


def name_of(workflow: Any, store: Store | None = None, namespace: str = "") -> str:
    """A workflow given by name (put in ``namespace``, as hatchet_sdk does), as the declared
    object, or (with ``store``) by its id (hatchet_sdk's ``workflow.id``) when that is the
    id of a registered workflow."""
    if not isinstance(workflow, str):
        name = getattr(workflow, "name", None)
        if not isinstance(name, str):
            raise errors.InvalidArgument(
                f"{limits.shown(workflow)} is not a workflow: pass its name, the declared "
                "workflow or its id"
            )
        return name
    if store is not None and ids.is_uuid(workflow):
        for summary in VersionsRepo(store).list_workflows():
            if ids.workflow_id(summary.name) == workflow:
                return summary.name
    return namespaced(namespace, workflow)


def registered_name(workflow: Any, store: Store, what: str, namespace: str = "") -> str:
    """The name of a workflow (name, object or id) that is registered, as crons and
    schedules need: a trigger for a workflow no worker can run would only fail later."""
    name = serialization.check_text(name_of(workflow, store, namespace), "workflow")
    if VersionsRepo(store).current_version(name) is None:
        raise errors.WorkflowNotFound(
            f"workflow {name!r} is not registered; register it (hatchet.register(workflow), "
            f"or start a worker with it) before creating {what} for it"
        )
    return name


def json_value(value: Any, limit: int) -> dict[str, Any]:
    """An input or payload as the JSON object stored, refused over ``limit`` bytes."""
    return json.loads(serialization.dump_input(value, dict, limit)) if value else {}


def metadata_value(value: dict[str, Any] | None) -> dict[str, Any]:
    """Additional metadata as stored (refused when JSON cannot hold it)."""
    loaded: dict[str, Any] = json.loads(serialization.dump_metadata(value))
    return loaded


def refuse_ordering(order_by_field: Any, order_by_direction: Any) -> None:
    """hatchet_sdk's list ordering options, which hatchnb's lists do not take (yet)."""
    if order_by_field is not None or order_by_direction is not None:
        raise errors.NotSupported(
            "order_by_field / order_by_direction are not supported by this hatchnb version: "
            "lists come newest first; sort the rows yourself"
        )


def page(rows: list[T], offset: int | None, limit: int | None) -> list[T]:
    start = limits.optional_whole_number(offset, "offset", 0) or 0
    size = limits.optional_whole_number(limit, "limit", 0)
    return rows[start : start + size] if size is not None else rows[start:]


def metadata_matches(record_metadata: dict[str, Any], wanted: dict[str, Any] | None) -> bool:
    return not wanted or all(record_metadata.get(k) == v for k, v in wanted.items())
