"""Crons and scheduled runs: create, delete, trigger now, pause a cron, backfill its missed
ticks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import panel as pn

from hatchnb.dashboard import common
from hatchnb.dashboard.pages.events import parse_json
from hatchnb.records import Role

CRON_COLUMNS = [
    "workflow",
    "name",
    "expression",
    "timezone",
    "state",
    "next_fire",
    "last_fired",
    "last_error",
    "id",
]
SCHEDULED_COLUMNS = ["workflow", "run_at", "input", "run", "error", "id"]


class TriggersPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        names = [w.name for w in self.hatchet.workflows.list()]
        self.crons = common.table(CRON_COLUMNS, "crons_table", selectable=1)
        self.scheduled = common.table(
            SCHEDULED_COLUMNS, "scheduled_table", html=["run"], selectable=1
        )
        self.workflow = pn.widgets.Select(label="Workflow", options=names, width=200)
        self.cron_name = pn.widgets.TextInput(label="Cron name", placeholder="nightly", width=160)
        self.expression = pn.widgets.TextInput(label="Expression", value="0 3 * * *", width=140)
        self.input = pn.widgets.TextInput(label="Input (JSON)", value="{}", width=200)
        self.delay = pn.widgets.IntInput(
            label="Schedule in (seconds)", value=60, start=0, width=160
        )
        self.backfill_hours = pn.widgets.IntInput(
            label="Backfill the last (hours)", value=24, start=1, end=24 * 366, width=170
        )
        self.buttons = {
            name: pn.widgets.Button(label=name, color=kind, width=150)
            for name, kind in (
                ("Create cron", "primary"),
                ("Schedule run", "primary"),
                ("Delete cron", "danger"),
                ("Trigger cron now", "warning"),
                ("Pause or resume cron", "warning"),
                ("Backfill cron", "warning"),
                ("Delete scheduled", "danger"),
                ("Trigger scheduled now", "warning"),
            )
        }
        self.feedback = pn.pane.HTML("", name="feedback")
        for name, button in self.buttons.items():
            button.on_click(lambda _, n=name: self._act(n))
        common.enable_for(config, Role.OPERATOR, *self.buttons.values())
        self.payloads = common.shows_payloads(config)

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(1000, self.refresh)
        b = self.buttons
        form = pn.Row(self.workflow, self.cron_name, self.expression, self.input, self.delay)
        return pn.Column(
            "## Crons and scheduled runs",
            form,
            pn.Row(b["Create cron"], b["Schedule run"], self.feedback),
            "### Crons",
            pn.Row(
                b["Delete cron"],
                b["Trigger cron now"],
                b["Pause or resume cron"],
                self.backfill_hours,
                b["Backfill cron"],
            ),
            self.crons,
            "### Scheduled runs",
            pn.Row(b["Delete scheduled"], b["Trigger scheduled now"]),
            self.scheduled,
            sizing_mode="stretch_width",
        )

    def refresh(self) -> None:
        crons = [
            {
                "workflow": c.workflow_name,
                "name": c.name,
                "expression": c.expression,
                "timezone": c.timezone,
                "state": "paused" if c.paused else "active",
                "next_fire": common.when(c.next_fire_at),
                "last_fired": common.when(c.last_fired_at),
                "last_error": c.last_error or "",
                "id": c.id,
            }
            for c in self.hatchet.cron.list(limit=500)
        ]
        common.update_table(self.crons, common.frame(crons, CRON_COLUMNS))
        scheduled = [
            {
                "workflow": s.workflow_name,
                "run_at": common.when(s.trigger_at),
                "input": json.dumps(s.input) if self.payloads else common.HIDDEN,
                "run": common.run_link(s.workflow_run_id) if s.workflow_run_id else "",
                "error": s.error or "",
                "id": s.id,
            }
            for s in self.hatchet.scheduled.list(limit=500)
        ]
        common.update_table(self.scheduled, common.frame(scheduled, SCHEDULED_COLUMNS))

    def _selected(self, widget: pn.widgets.Tabulator) -> str:
        if not widget.selection:
            raise ValueError("select a row first")
        return str(widget.value.iloc[widget.selection[0]]["id"])

    def _act(self, action: str) -> None:
        what = "create, delete or trigger crons and schedules"
        user = common.authorize(self.config, Role.OPERATOR, what, self.feedback)
        if user is None:
            return
        try:
            target = self._target(action)
            text = self._do(action)
        except Exception as exc:  # shown to the user, who can fix the form
            self.feedback.object = common.message(f"{action}: {exc}", "error")
            return
        common.audit(self.config, user, action.lower().replace(" ", "_"), target, result=text)
        self.feedback.object = common.message(text, "ok")
        self.refresh()

    def _target(self, action: str) -> str:
        """What ``action`` acts on: the selected cron or schedule, or the chosen workflow."""
        if action in ("Delete cron", "Trigger cron now", "Pause or resume cron", "Backfill cron"):
            return self._selected(self.crons)
        if action in ("Delete scheduled", "Trigger scheduled now"):
            return self._selected(self.scheduled)
        return str(self.workflow.value or "")

    def _do(self, action: str) -> str:
        h = self.hatchet
        if action == "Create cron":
            if not self.workflow.value or not self.cron_name.value.strip():
                raise ValueError("choose a workflow and name the cron")
            h.cron.create(
                self.workflow.value,
                self.cron_name.value.strip(),
                self.expression.value.strip(),
                parse_json(self.input.value, "the input"),
            )
            return "cron created"
        if action == "Schedule run":
            if not self.workflow.value:
                raise ValueError("choose a workflow")
            at = datetime.now(UTC) + timedelta(seconds=int(self.delay.value or 0))
            h.scheduled.create(self.workflow.value, at, parse_json(self.input.value, "the input"))
            return f"run scheduled at {common.when(at)} UTC"
        if action == "Delete cron":
            h.cron.delete(self._selected(self.crons))
            return "cron deleted"
        if action == "Trigger cron now":
            return f"started run {h.cron.trigger_now(self._selected(self.crons))}"
        if action == "Pause or resume cron":
            cron = h.cron.get(self._selected(self.crons))
            if cron.paused:
                h.cron.unpause(cron.id)
                return f"cron {cron.name} resumed"
            h.cron.pause(cron.id)
            return f"cron {cron.name} paused"
        if action == "Backfill cron":
            cron = h.cron.get(self._selected(self.crons))
            until = datetime.now(UTC)
            since = until - timedelta(hours=int(self.backfill_hours.value or 1))
            started = h.cron.backfill(cron.id, since, until)
            return (
                f"cron {cron.name}: started {len(started)} run(s) for the missed ticks of the "
                f"last {self.backfill_hours.value} hour(s)"
            )
        if action == "Delete scheduled":
            h.scheduled.delete(self._selected(self.scheduled))
            return "scheduled run deleted"
        h.scheduled.trigger_now(self._selected(self.scheduled))
        return "the scheduled run starts at the engine's next round"


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return TriggersPage(config).view()
