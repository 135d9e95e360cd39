"""Engine duty: turn failed runs into alert messages and send them (see hatchnb.alerting)."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import timedelta
from typing import Any

import psycopg
from psycopg.rows import dict_row

from hatchnb.alerting import (
    CHECK_INTERVAL,
    MAX_ATTEMPTS,
    _kind,
    _wanted,
    digest_message,
    failure_message,
    log,
    send,
)
from hatchnb.records import AlertSettings
from hatchnb.store import connect, queries


class AlertDuty:
    """Turns failures into outbox messages and sends them; run by the engine leader."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._next_check = 0.0

    async def tick(self, conn: psycopg.AsyncConnection[Any]) -> None:
        """Called every engine round; looks at most every CHECK_INTERVAL seconds and never
        raises (alerting trouble must not stop the other duties)."""
        if time.monotonic() < self._next_check:
            return
        self._next_check = time.monotonic() + CHECK_INTERVAL
        try:
            cur = await conn.execute(
                queries.get("alerts_have_work"), {"max_attempts": MAX_ATTEMPTS}
            )
            row = await cur.fetchone()
            if row and row["work"]:
                await asyncio.to_thread(self.run_once)
        except Exception:
            log.exception("alert duty failed; it will try again")

    def run_once(self) -> None:
        """One round on a connection of its own (only opened when there is work)."""
        with connect(self.dsn, autocommit=True, row_factory=dict_row) as conn:
            self.collect(conn)
            self.send_due(conn)

    def collect(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        """Failures and ended windows -> outbox rows, in one transaction."""
        with conn.transaction():
            row = conn.execute(queries.get("get_alert_settings")).fetchone()
            if row is None:
                return
            settings = AlertSettings.from_row(row)
            for digest in conn.execute(queries.get("take_due_digests")).fetchall():
                subject, body = digest_message(digest)
                _queue(conn, settings, "digest", digest["workflow_name"], None, subject, body)
            failed = conn.execute(queries.get("new_failed_runs")).fetchall()
            by_workflow: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for run in failed:
                if _wanted(settings, _kind(run["error"])):
                    by_workflow[run["workflow_name"]].append(run)
            for workflow, runs in by_workflow.items():
                _alert_workflow(conn, settings, workflow, runs)
            if failed:
                conn.execute(queries.get("mark_runs_alerted"), {"ids": [r["id"] for r in failed]})
                conn.execute(queries.get("prune_alerted_runs"))

    def send_due(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        row = conn.execute(queries.get("get_alert_settings")).fetchone()
        settings = AlertSettings.from_row(row) if row else AlertSettings()
        due = conn.execute(
            queries.get("due_alert_deliveries"), {"max_attempts": MAX_ATTEMPTS}
        ).fetchall()
        for item in due:
            try:
                send(settings, item["channel"], item["subject"], item["body"])
            except Exception as exc:
                retry_in = timedelta(seconds=min(300, 5 * 2 ** item["attempts"]))
                error = f"{type(exc).__name__}: {exc}"
                log.error("alert %s on %s not sent (%s)", item["id"], item["channel"], error)
                conn.execute(
                    queries.get("mark_alert_failed"),
                    {"id": item["id"], "error": error, "retry_in": retry_in},
                )
            else:
                conn.execute(queries.get("mark_alert_sent"), {"id": item["id"]})


def _alert_workflow(
    conn: psycopg.Connection[dict[str, Any]],
    settings: AlertSettings,
    workflow: str,
    runs: list[dict[str, Any]],
) -> None:
    """Send the first failure unless the workflow's window is open; count the rest."""
    kinds = sorted({_kind(r["error"]) for r in runs})
    window = conn.execute(queries.get("lock_alert_window"), {"workflow_name": workflow}).fetchone()
    if window is not None and window["open"]:
        conn.execute(
            queries.get("hold_back_alerts"),
            {"workflow_name": workflow, "count": len(runs), "kinds": kinds},
        )
        return
    first = runs[0]
    subject, body = failure_message(first, len(runs) - 1)
    _queue(conn, settings, _kind(first["error"]), workflow, first["id"], subject, body)
    held_kinds = sorted({_kind(r["error"]) for r in runs[1:]})
    conn.execute(
        queries.get("open_alert_window"),
        {"workflow_name": workflow, "held_back": len(runs) - 1, "held_kinds": held_kinds},
    )


def _queue(
    conn: psycopg.Connection[dict[str, Any]],
    settings: AlertSettings,
    kind: str,
    workflow: str | None,
    run_id: Any,
    subject: str,
    body: str,
) -> None:
    for channel in settings.channels:
        conn.execute(
            queries.get("queue_alert_delivery"),
            {
                "kind": kind,
                "channel": channel,
                "workflow_name": workflow,
                "run_id": run_id,
                "subject": subject,
                "body": body,
                "status": "PENDING",
                "attempts": 0,
                "last_error": None,
            },
        )
