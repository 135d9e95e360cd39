"""Alert settings and the delivery outbox, as ``hatchet.alerts`` sees them. The engine's
alert duty works on the same tables (``sql/alerts.sql``)."""

from __future__ import annotations

from hatchnb import errors
from hatchnb.records import AlertSettings, Delivery
from hatchnb.store.db import Store, jsonb


class AlertsRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def get_settings(self) -> AlertSettings | None:
        row = self._db.fetch_one("get_alert_settings")
        return AlertSettings.from_row(row) if row else None

    def save_settings(self, settings: AlertSettings) -> AlertSettings:
        row = self._db.fetch_one(
            "upsert_alert_settings",
            slack_webhook_url=settings.slack_webhook_url,
            email=jsonb(settings.email.to_json()) if settings.email else None,
            on_failure=settings.on_failure,
            on_schedule_timeout=settings.on_schedule_timeout,
            window_seconds=settings.window_seconds,
        )
        if row is None:
            raise errors.HatchnbError("the alert settings were not saved")
        return AlertSettings.from_row(row)

    def record_test(
        self, channel: str, subject: str, body: str, error: str | None, attempts: int
    ) -> int:
        """A test message that was already sent (or failed): recorded, never retried."""
        row = self._db.fetch_one(
            "queue_alert_delivery",
            kind="test",
            channel=channel,
            workflow_name=None,
            run_id=None,
            subject=subject,
            body=body,
            status="ERROR" if error else "SENT",
            attempts=attempts,
            last_error=error,
        )
        if row is None:
            raise errors.HatchnbError("the test delivery was not recorded")
        return int(row["id"])

    def deliveries(self, limit: int) -> list[Delivery]:
        rows = self._db.fetch_all("list_alert_deliveries", limit=limit)
        return [Delivery.from_row(r) for r in rows]
