"""Parameters shared by the trigger clients (crons, schedules, events, filters)."""

from __future__ import annotations

import json
from typing import Any

from hatchnb import serialization
from hatchnb.store import jsonb


def name_of(workflow: Any) -> str:
    """A workflow given by name or as the declared object."""
    return workflow if isinstance(workflow, str) else str(workflow.name)


def json_param(value: Any, limit: int) -> Any:
    """An input or payload as a JSON parameter, refused over ``limit`` bytes."""
    return jsonb(json.loads(serialization.dump_input(value, dict, limit)) if value else {})


def metadata_param(value: dict[str, Any] | None) -> Any:
    return jsonb(json.loads(serialization.dump_metadata(value)))
