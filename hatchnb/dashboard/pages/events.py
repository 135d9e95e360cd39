"""Events: push an event, and the recent events with the runs they started."""

from __future__ import annotations

import json
from typing import Any

import panel as pn

from hatchnb.dashboard import common
from hatchnb.records import Role

COLUMNS = ["key", "created", "payload", "metadata", "runs", "id"]


def parse_json(text: str, what: str) -> dict[str, Any]:
    if not text.strip():
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be a JSON object")
    return value


class EventsPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        self.key = pn.widgets.TextInput(label="Event key", placeholder="user:created", width=220)
        self.payload = pn.widgets.TextAreaInput(label="Payload (JSON)", value="{}", width=300)
        self.metadata = pn.widgets.TextAreaInput(label="Metadata (JSON)", value="{}", width=220)
        self.push = pn.widgets.Button(label="Push event", color="primary", width=120)
        self.feedback = pn.pane.HTML("", name="feedback")
        self.table = common.table(COLUMNS, "events_table", html=["runs"])
        self.push.on_click(self._push)
        common.enable_for(config, Role.OPERATOR, self.push)
        self.payloads = common.shows_payloads(config)

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(1000, self.refresh)
        form = pn.Row(self.key, self.payload, self.metadata, pn.Column(self.push, self.feedback))
        return pn.Column("## Events", form, self.table, sizing_mode="stretch_width")

    def refresh(self) -> None:
        rows = [
            {
                "key": e.key,
                "created": common.when(e.created_at),
                "payload": json.dumps(e.payload) if self.payloads else common.HIDDEN,
                "metadata": json.dumps(e.additional_metadata),
                "runs": " ".join(common.run_link(r) for r in e.run_ids),
                "id": e.event_id,
            }
            for e in self.hatchet.event.list(limit=100)
        ]
        common.update_table(self.table, common.frame(rows, COLUMNS))

    def _push(self, _: Any) -> None:
        user = common.authorize(self.config, Role.OPERATOR, "push events", self.feedback)
        if user is None:
            return
        try:
            if not self.key.value.strip():
                raise ValueError("the event needs a key")
            event = self.hatchet.event.push(
                self.key.value.strip(),
                parse_json(self.payload.value, "the payload"),
                additional_metadata=parse_json(self.metadata.value, "the metadata"),
            )
        except ValueError as exc:
            self.feedback.object = common.message(str(exc), "error")
            return
        started = len(event.run_ids)
        common.audit(self.config, user, "push_event", event.key, runs_started=started)
        self.feedback.object = common.message(f"pushed; {started} run(s) started", "ok")
        self.refresh()


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return EventsPage(config).view()
