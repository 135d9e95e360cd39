"""Parameters shared by the trigger clients (crons, schedules, events, filters)."""

from __future__ import annotations

import json
from typing import Any

from hatchnb import serialization


def name_of(workflow: Any) -> str:
    """A workflow given by name or as the declared object."""
    return workflow if isinstance(workflow, str) else str(workflow.name)


def json_value(value: Any, limit: int) -> dict[str, Any]:
    """An input or payload as the JSON object stored, refused over ``limit`` bytes."""
    return json.loads(serialization.dump_input(value, dict, limit)) if value else {}


def metadata_value(value: dict[str, Any] | None) -> dict[str, Any]:
    """Additional metadata as stored (refused when JSON cannot hold it)."""
    loaded: dict[str, Any] = json.loads(serialization.dump_metadata(value))
    return loaded
