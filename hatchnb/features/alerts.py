"""``hatchet.alerts``: where failure alerts go (Slack, email) and what was delivered."""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
from typing import Any

from hatchnb import errors, limits
from hatchnb.alerting import MAX_ATTEMPTS, _check_url, send
from hatchnb.config import Settings
from hatchnb.records import AlertSettings, Delivery, EmailSettings
from hatchnb.store import Store
from hatchnb.store.alerts import AlertsRepo

# ---- messages ---------------------------------------------------------------------------


# ---- the client API ---------------------------------------------------------------------


class AlertsClient:
    """``hatchet.alerts``: failure alert settings, a test message, and the delivery log."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._alerts = AlertsRepo(store)
        self._settings = settings

    def get(self) -> AlertSettings | None:
        """The current settings, or None if alerts were never configured."""
        return self._alerts.get_settings()

    def _save(self, settings: AlertSettings) -> AlertSettings:
        return self._alerts.save_settings(settings)

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
            attempts = MAX_ATTEMPTS if error else 1  # a failed test is not retried
            results.append(self._alerts.record_test(channel, subject, body, error, attempts))
        return sorted((d for d in self.deliveries(limit=50) if d.id in results), key=lambda d: d.id)

    def deliveries(self, limit: int = 100) -> builtins.list[Delivery]:
        """Recent alert messages with their delivery state, newest first."""
        return self._alerts.deliveries(limits.whole_number(limit, "limit", 0, limits.BIGINT_MAX))

    async def aio_deliveries(self, limit: int = 100) -> builtins.list[Delivery]:
        return await asyncio.to_thread(self.deliveries, limit)


# ---- the engine leader's duty -----------------------------------------------------------
