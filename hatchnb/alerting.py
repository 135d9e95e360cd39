"""Failure alerts to a Slack incoming webhook and/or email (SMTP).

Configured in Postgres through ``hatchet.alerts`` (or the dashboard). The engine leader runs
the alert duty (``hatchnb.runtime.duties.alerts``) each round: failed runs not yet handled
become outbox messages in the same transaction that marks them handled, so a failure is
never dropped; messages are then sent and their delivery state (sent, or the error and the
next attempt) is recorded.

Rate limit: per workflow, the first failure opens a window (``window_seconds``) and is sent
at once; failures inside the window are counted and sent as one digest when it ends.
This module words the messages and sends them.
"""

from __future__ import annotations

import json
import logging
import os
import smtplib
import urllib.parse
import urllib.request
from email.message import EmailMessage
from typing import Any

from hatchnb import errors
from hatchnb.records import AlertSettings, EmailSettings

log = logging.getLogger("hatchnb.alerts")


#: sending a message is tried this many times (with growing delays) before it stays ERROR
MAX_ATTEMPTS = 5


#: seconds between two looks of the engine leader at the alert tables
CHECK_INTERVAL = 1.0


SEND_TIMEOUT = 10.0


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
