"""Alert settings (Slack webhook, email over SMTP), a test button and the delivery log."""

from __future__ import annotations

from typing import Any

import panel as pn

from hatchnb.dashboard import common
from hatchnb.records import Role

COLUMNS = ["created", "kind", "channel", "workflow", "subject", "status", "attempts", "error"]


class AlertsPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        settings = self.hatchet.alerts.get()
        email = settings.email if settings else None
        # the webhook URL is a secret (whoever has it can post to the channel): admins only
        admin = common.may(config, Role.ADMIN)
        self.slack = pn.widgets.TextInput(
            label="Slack incoming webhook URL",
            value=(settings.slack_webhook_url or "") if settings and admin else "",
            placeholder="" if admin else "shown to admins only",
            width=420,
        )
        self.host = pn.widgets.TextInput(label="SMTP host", value=email.host if email else "")
        self.port = pn.widgets.IntInput(label="SMTP port", value=email.port if email else 25)
        self.sender = pn.widgets.TextInput(label="From", value=email.sender if email else "")
        self.recipients = pn.widgets.TextInput(
            label="To (comma-separated)", value=", ".join(email.recipients) if email else ""
        )
        self.username = pn.widgets.TextInput(
            label="SMTP user", value=(email.username or "") if email else ""
        )
        self.password = pn.widgets.PasswordInput(label="SMTP password (blank: keep)")
        self.starttls = pn.widgets.Checkbox(label="STARTTLS", value=bool(email and email.starttls))
        self.on_failure = pn.widgets.Checkbox(
            label="alert on run failure", value=settings.on_failure if settings else True
        )
        self.on_timeout = pn.widgets.Checkbox(
            label="alert on schedule timeout",
            value=settings.on_schedule_timeout if settings else True,
        )
        self.window = pn.widgets.IntInput(
            label="One alert per workflow per (seconds)",
            value=settings.window_seconds if settings else 300,
            start=1,
        )
        self.save = pn.widgets.Button(label="Save", color="primary", width=100)
        self.test = pn.widgets.Button(label="Send test alert", color="warning", width=150)
        self.feedback = pn.pane.HTML("", name="feedback")
        self.table = common.table(COLUMNS, "alert_deliveries")
        self.save.on_click(self._save)
        self.test.on_click(self._test)
        common.enable_for(config, Role.ADMIN, self.save, self.test)

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(1000, self.refresh)
        email = pn.Row(self.host, self.port, self.sender, self.recipients)
        smtp_auth = pn.Row(self.username, self.password, self.starttls)
        rules = pn.Row(self.on_failure, self.on_timeout, self.window)
        return pn.Column(
            "## Alerts",
            self.slack,
            email,
            smtp_auth,
            rules,
            pn.Row(self.save, self.test, self.feedback),
            "### Deliveries",
            self.table,
            sizing_mode="stretch_width",
        )

    def refresh(self) -> None:
        rows = [
            {
                "created": common.when(d.created_at),
                "kind": d.kind,
                "channel": d.channel,
                "workflow": d.workflow_name or "",
                "subject": d.subject,
                "status": d.status,
                "attempts": d.attempts,
                "error": d.last_error or "",
            }
            for d in self.hatchet.alerts.deliveries(limit=100)
        ]
        common.update_table(self.table, common.frame(rows, COLUMNS))

    def _save(self, _: Any) -> None:
        user = common.authorize(self.config, Role.ADMIN, "change alert settings", self.feedback)
        if user is None:
            return
        alerts = self.hatchet.alerts
        try:
            alerts.set_slack(self.slack.value.strip() or None)
            if self.host.value.strip():
                current = alerts.get()
                old = current.email if current else None
                alerts.set_email(
                    self.host.value.strip(),
                    self.sender.value.strip(),
                    [r.strip() for r in self.recipients.value.split(",") if r.strip()],
                    port=int(self.port.value),
                    username=self.username.value.strip() or None,
                    password=self.password.value or (old.password if old else None),
                    starttls=self.starttls.value,
                )
            else:
                alerts.clear_email()
            alerts.configure(
                on_failure=self.on_failure.value,
                on_schedule_timeout=self.on_timeout.value,
                window_seconds=int(self.window.value),
            )
        except Exception as exc:  # shown to the user, who can fix the form
            self.feedback.object = common.message(str(exc), "error")
            return
        saved = alerts.get()
        common.audit(self.config, user, "save_alerts", channels=saved.channels if saved else [])
        self.feedback.object = common.message("saved", "ok")

    def _test(self, _: Any) -> None:
        user = common.authorize(self.config, Role.ADMIN, "send test alerts", self.feedback)
        if user is None:
            return
        try:
            results = self.hatchet.alerts.test()
        except Exception as exc:
            self.feedback.object = common.message(str(exc), "error")
            return
        common.audit(self.config, user, "test_alerts", channels=[d.channel for d in results])
        text = "; ".join(f"{d.channel}: {d.status} {d.last_error or ''}" for d in results)
        failed = any(d.status != "SENT" for d in results)
        self.feedback.object = common.message(text, "error" if failed else "ok")
        self.refresh()


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return AlertsPage(config).view()
