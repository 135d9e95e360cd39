"""Engine duty: turn failed runs into alert messages and send them (see hatchnb.alerting)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import timedelta
from typing import Any

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
from hatchnb.store.engine import AlertOutbox, LeaderSession, duty_connection


class AlertDuty:
    """Turns failures into outbox messages and sends them; run by the engine leader."""

    name = "alerts"
    interval = CHECK_INTERVAL

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def run(self, session: LeaderSession) -> None:
        """Never raises (alerting trouble must not stop the other duties)."""
        try:
            if await session.alerts_have_work(MAX_ATTEMPTS):
                await asyncio.to_thread(self.run_once)
        except Exception:
            log.exception("alert duty failed; it will try again")

    def run_once(self) -> None:
        """One round on a connection of its own (only opened when there is work)."""
        with duty_connection(self.dsn) as tx:
            outbox = AlertOutbox(tx)
            self.collect(outbox)
            self.send_due(outbox)

    def collect(self, outbox: AlertOutbox) -> None:
        """Failures and ended windows -> outbox rows, in one transaction."""
        with outbox.transaction():
            row = outbox.settings_row()
            if row is None:
                return
            settings = AlertSettings.from_row(row)
            for digest in outbox.take_due_digests():
                subject, body = digest_message(digest)
                _queue(outbox, settings, "digest", digest["workflow_name"], None, subject, body)
            failed = outbox.new_failed_runs()
            by_workflow: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for run in failed:
                if _wanted(settings, _kind(run["error"])):
                    by_workflow[run["workflow_name"]].append(run)
            for workflow, runs in by_workflow.items():
                _alert_workflow(outbox, settings, workflow, runs)
            if failed:
                outbox.mark_runs_alerted([r["id"] for r in failed])

    def send_due(self, outbox: AlertOutbox) -> None:
        row = outbox.settings_row()
        settings = AlertSettings.from_row(row) if row else AlertSettings()
        for item in outbox.due_deliveries(MAX_ATTEMPTS):
            try:
                send(settings, item["channel"], item["subject"], item["body"])
            except Exception as exc:
                retry_in = timedelta(seconds=min(300, 5 * 2 ** item["attempts"]))
                error = f"{type(exc).__name__}: {exc}"
                log.error("alert %s on %s not sent (%s)", item["id"], item["channel"], error)
                outbox.mark_failed(item["id"], error, retry_in)
            else:
                outbox.mark_sent(item["id"])


def _alert_workflow(
    outbox: AlertOutbox, settings: AlertSettings, workflow: str, runs: list[dict[str, Any]]
) -> None:
    """Send the first failure unless the workflow's window is open; count the rest."""
    kinds = sorted({_kind(r["error"]) for r in runs})
    if outbox.window_open(workflow):
        outbox.hold_back(workflow, len(runs), kinds)
        return
    first = runs[0]
    subject, body = failure_message(first, len(runs) - 1)
    _queue(outbox, settings, _kind(first["error"]), workflow, first["id"], subject, body)
    held_kinds = sorted({_kind(r["error"]) for r in runs[1:]})
    outbox.open_window(workflow, len(runs) - 1, held_kinds)


def _queue(
    outbox: AlertOutbox,
    settings: AlertSettings,
    kind: str,
    workflow: str | None,
    run_id: Any,
    subject: str,
    body: str,
) -> None:
    for channel in settings.channels:
        outbox.queue(kind, channel, workflow, run_id, subject, body)
