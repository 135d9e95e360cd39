"""Failure alerts to a Slack incoming webhook and/or email (SMTP).

Configured in Postgres through ``hatchet.alerts`` (or the dashboard). The engine leader runs
:class:`AlertDuty` each round: failed runs not yet handled become outbox messages in the
same transaction that marks them handled, so a failure is never dropped; messages are then
sent and their delivery state (sent, or the error and the next attempt) is recorded.

Rate limit: per workflow, the first failure opens a window (``window_seconds``) and is sent
at once; failures inside the window are counted and sent as one digest when it ends.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import json
import logging
import os
import smtplib
import time
import urllib.parse
import urllib.request
from collections import defaultdict
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from hatchnb import errors
from hatchnb.store import connect, queries

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

log = logging.getLogger("hatchnb.alerts")

#: sending a message is tried this many times (with growing delays) before it stays ERROR
MAX_ATTEMPTS = 5
#: seconds between two looks of the engine leader at the alert tables
CHECK_INTERVAL = 1.0
SEND_TIMEOUT = 10.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmailSettings:
    host: str
    port: int = 25
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    #: upgrade the connection with STARTTLS before logging in
    starttls: bool = False

    def to_json(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "recipients": list(self.recipients)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> EmailSettings:
        return cls(**{**data, "recipients": tuple(data["recipients"])})


@dataclasses.dataclass(frozen=True, kw_only=True)
class AlertSettings:
    slack_webhook_url: str | None = None
    email: EmailSettings | None = None
    #: alert when a run fails
    on_failure: bool = True
    #: alert when a run fails because a task was not started within its schedule_timeout
    on_schedule_timeout: bool = True
    #: at most one alert per workflow per window; the rest go into a digest
    window_seconds: int = 300

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AlertSettings:
        return cls(
            slack_webhook_url=row["slack_webhook_url"],
            email=EmailSettings.from_json(row["email"]) if row["email"] else None,
            on_failure=row["on_failure"],
            on_schedule_timeout=row["on_schedule_timeout"],
            window_seconds=row["window_seconds"],
        )

    @property
    def channels(self) -> list[str]:
        return [c for c, on in (("slack", self.slack_webhook_url), ("email", self.email)) if on]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Delivery:
    id: int
    #: failure, schedule_timeout, digest or test
    kind: str
    channel: str
    workflow_name: str | None
    run_id: str | None
    subject: str
    body: str
    #: PENDING, SENT or ERROR
    status: str
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Delivery:
        run_id = row["run_id"]
        return cls(**{**row, "run_id": str(run_id) if run_id else None})


# ---- sending ----------------------------------------------------------------------------


def _check_url(url: str) -> str:
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise errors.ConfigurationError(f"the Slack webhook {url!r} must be an http(s) URL")
    return url


def send_slack(url: str, subject: str, body: str) -> None:
    """POST a message in the Slack incoming-webhook format (``{"text": ...}``)."""
    payload = json.dumps({"text": f"*{subject}*\n{body}"}).encode()
    request = urllib.request.Request(
        _check_url(url), data=payload, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=SEND_TIMEOUT) as response:
        response.read()


def send_email(settings: EmailSettings, subject: str, body: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.recipients)
    message.set_content(body)
    with smtplib.SMTP(settings.host, settings.port, timeout=SEND_TIMEOUT) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.username:
            smtp.login(settings.username, settings.password or "")
        smtp.send_message(message)


def send(settings: AlertSettings, channel: str, subject: str, body: str) -> None:
    """Send one message on one channel; raises on any failure."""
    if channel == "slack" and settings.slack_webhook_url:
        send_slack(settings.slack_webhook_url, subject, body)
    elif channel == "email" and settings.email:
        send_email(settings.email, subject, body)
    else:
        raise errors.ConfigurationError(f"the {channel} alert channel is not configured")


# ---- messages ---------------------------------------------------------------------------


def _kind(error: str | None) -> str:
    return "schedule_timeout" if error and "ScheduleTimeout" in error else "failure"


def _wanted(settings: AlertSettings, kind: str) -> bool:
    return settings.on_schedule_timeout if kind == "schedule_timeout" else settings.on_failure


def _run_link(run_id: Any) -> str:
    base = os.environ.get("HATCHNB_DASHBOARD_URL")
    return f"\n{base.rstrip('/')}/?page=run&id={run_id}" if base else ""


def failure_message(run: dict[str, Any], held_back: int) -> tuple[str, str]:
    what = "timed out in the queue" if _kind(run["error"]) == "schedule_timeout" else "failed"
    subject = f"hatchnb: a run of {run['workflow_name']} {what}"
    error = (run["error"] or "").strip()
    body = f"run {run['id']} {what} at {run['finished_at']:%Y-%m-%d %H:%M:%S %Z}\n{error[:1500]}"
    if held_back:
        body += f"\n({held_back} more failure(s) of this workflow will follow in one digest)"
    return subject, body + _run_link(run["id"])


def digest_message(row: dict[str, Any]) -> tuple[str, str]:
    count, workflow = row["held_back"], row["workflow_name"]
    subject = f"hatchnb: {count} more failure(s) of {workflow}"
    kinds = ", ".join(sorted(row["held_kinds"])) or "failure"
    since = row["opened_at"]
    body = f"{count} run(s) of {workflow} failed ({kinds}) since {since:%Y-%m-%d %H:%M:%S %Z}"
    return subject, body


# ---- the client API ---------------------------------------------------------------------


class AlertsClient:
    """``hatchet.alerts``: failure alert settings, a test message, and the delivery log."""

    def __init__(self, client: Hatchet) -> None:
        self._client = client

    def get(self) -> AlertSettings | None:
        """The current settings, or None if alerts were never configured."""
        row = self._client._store.fetch_one("get_alert_settings")
        return AlertSettings.from_row(row) if row else None

    def _save(self, settings: AlertSettings) -> AlertSettings:
        row = self._client._store.fetch_one(
            "upsert_alert_settings",
            slack_webhook_url=settings.slack_webhook_url,
            email=Jsonb(settings.email.to_json()) if settings.email else None,
            on_failure=settings.on_failure,
            on_schedule_timeout=settings.on_schedule_timeout,
            window_seconds=settings.window_seconds,
        )
        assert row is not None
        return AlertSettings.from_row(row)

    def set_slack(self, webhook_url: str | None) -> AlertSettings:
        """Send alerts to a Slack incoming webhook (None stops it)."""
        if webhook_url:
            _check_url(webhook_url)
        current = self.get() or AlertSettings()
        return self._save(dataclasses.replace(current, slack_webhook_url=webhook_url or None))

    def set_email(
        self,
        host: str,
        sender: str,
        recipients: builtins.list[str],
        *,
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
    ) -> AlertSettings:
        """Send alerts by email through an SMTP server."""
        if not recipients:
            raise ValueError("set_email needs at least one recipient")
        email = EmailSettings(
            host=host,
            port=port,
            sender=sender,
            recipients=tuple(recipients),
            username=username,
            password=password,
            starttls=starttls,
        )
        current = self.get() or AlertSettings()
        return self._save(dataclasses.replace(current, email=email))

    def clear_email(self) -> AlertSettings:
        current = self.get() or AlertSettings()
        return self._save(dataclasses.replace(current, email=None))

    def configure(
        self,
        *,
        on_failure: bool | None = None,
        on_schedule_timeout: bool | None = None,
        window_seconds: int | None = None,
    ) -> AlertSettings:
        """Change what triggers an alert and the per-workflow rate-limit window."""
        current = self.get() or AlertSettings()
        changes: dict[str, Any] = {
            "on_failure": on_failure,
            "on_schedule_timeout": on_schedule_timeout,
            "window_seconds": window_seconds,
        }
        if window_seconds is not None and window_seconds < 1:
            raise ValueError("window_seconds must be at least 1")
        given = {k: v for k, v in changes.items() if v is not None}
        return self._save(dataclasses.replace(current, **given))

    def test(self) -> builtins.list[Delivery]:
        """Send a test message on every configured channel now; each result is recorded
        (status SENT or ERROR with the error) and returned."""
        settings = self.get()
        if settings is None or not settings.channels:
            raise errors.ConfigurationError(
                "no alert channel is configured: call hatchet.alerts.set_slack(url) or "
                "hatchet.alerts.set_email(...) first"
            )
        subject, body = "hatchnb: test alert", "This is a test message from hatchnb alerts."
        results = []
        for channel in settings.channels:
            error = None
            try:
                send(settings, channel, subject, body)
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
            row = self._client._store.fetch_one(
                "queue_alert_delivery",
                kind="test",
                channel=channel,
                workflow_name=None,
                run_id=None,
                subject=subject,
                body=body,
                status="ERROR" if error else "SENT",
                attempts=MAX_ATTEMPTS if error else 1,  # a failed test is not retried
                last_error=error,
            )
            assert row is not None
            results.append(row["id"])
        return sorted((d for d in self.deliveries(limit=50) if d.id in results), key=lambda d: d.id)

    def deliveries(self, limit: int = 100) -> builtins.list[Delivery]:
        """Recent alert messages with their delivery state, newest first."""
        rows = self._client._store.fetch_all("list_alert_deliveries", limit=limit)
        return [Delivery.from_row(r) for r in rows]

    async def aio_deliveries(self, limit: int = 100) -> builtins.list[Delivery]:
        return await asyncio.to_thread(self.deliveries, limit)


# ---- the engine leader's duty -----------------------------------------------------------


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
