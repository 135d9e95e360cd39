"""The audit log: who cancelled, replayed, triggered or changed what from the dashboard."""

from __future__ import annotations

import json

import panel as pn

from hatchnb.dashboard import common

COLUMNS = ["at", "actor", "role", "action", "target", "detail"]
SHOWN = 500


class AuditPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.table = common.table(COLUMNS, "audit_table")

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(2000, self.refresh)
        return pn.Column(
            "## Audit log",
            pn.pane.HTML(
                common.message(f"the newest {SHOWN} actions taken from the dashboard"),
            ),
            self.table,
            sizing_mode="stretch_width",
        )

    def refresh(self) -> None:
        rows = [
            {
                "at": common.when(e.at),
                "actor": e.actor,
                "role": e.role,
                "action": e.action,
                "target": e.target,
                "detail": json.dumps(e.detail) if e.detail else "",
            }
            for e in self.config.client.audit.list(limit=SHOWN)
        ]
        common.update_table(self.table, common.frame(rows, COLUMNS))


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return AuditPage(config).view()
