"""TODO"""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg

from hatchnb import flow_control, ids, serialization
from hatchnb.store import queries


def _flow_control(
    conn: psycopg.Connection[Any], version_id: int
) -> flow_control.FlowControl | None:
    """The flow control a stored version declares (None when it declares none); versions
    never change, so this is cached, per database (one process may use several)."""
    key = (conn.info.host, conn.info.port, conn.info.dbname, version_id)
    if key not in _flow_controls:
        row = conn.execute(queries.get("version_spec"), {"id": version_id}).fetchone()
        fc = flow_control.FlowControl.from_spec(row["spec"]) if row else None
        _flow_controls[key] = fc if fc is not None and not fc.is_plain else None
    return _flow_controls[key]


def start_run(
    conn: psycopg.Connection[Any],
    target: dict[str, Any],
    input: Any,
    additional_metadata: dict[str, Any] | None,
    priority: int | None,
    trigger: dict[str, Any],
) -> uuid.UUID:
    """Start one run of a workflow (``target``: a ``workflow_trigger`` row) inside a
    transaction: events, crons and schedules."""
    run_id = ids.uuid7()
    fc = _flow_control(conn, target["version_id"])
    if fc is not None:

        def query(name: str, **params: Any) -> dict[str, Any] | None:
            row: dict[str, Any] | None = conn.execute(queries.get(name), params).fetchone()
            return row

        trigger = {**trigger, **fc.routing(input or {}, additional_metadata or {}, query)}
    row = serialization.run_row(
        run_id,
        0,
        json.dumps(input or {}),
        additional_metadata,
        priority or target["default_priority"],
        trigger=trigger,
    )
    conn.execute(
        queries.get("insert_runs"), {"runs": f"[{row}]", "version_id": target["version_id"]}
    )
    return run_id


_flow_controls: dict[tuple[str, int, str, int], flow_control.FlowControl | None] = {}


def workflow_target(conn: psycopg.Connection[Any], workflow_name: str) -> dict[str, Any] | None:
    return conn.execute(
        queries.get("workflow_trigger"), {"workflow_name": workflow_name}
    ).fetchone()
