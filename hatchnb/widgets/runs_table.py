"""A table of recent runs with a Refresh button; it refreshes itself while runs are going."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from hatchnb.widgets import live
from hatchnb.widgets.run_widget import _badge

if TYPE_CHECKING:
    from hatchnb.client import Hatchet
    from hatchnb.records import WorkflowRun


def _row(run: WorkflowRun) -> str:
    took = ""
    if run.started_at and run.finished_at:
        took = f"{(run.finished_at - run.started_at).total_seconds():.2f}s"
    return (
        f"<tr><td><code>{run.workflow_run_id}</code></td><td>{html.escape(run.workflow_name)}"
        f"</td><td>{_badge(str(run.status))}</td><td>{run.created_at:%Y-%m-%d %H:%M:%S}</td>"
        f"<td>{took}</td></tr>"
    )


class RunsTable:
    """``%hatchet runs``: recent runs, newest first."""

    def __init__(
        self,
        client: Hatchet,
        statuses: list[str] | None = None,
        workflow: str | None = None,
        limit: int = 20,
    ) -> None:
        self.client = client
        self.filters: dict[str, Any] = {
            "statuses": statuses,
            "workflow_names": [workflow] if workflow else None,
            "limit": limit,
        }
        self.runs: list[WorkflowRun] = []
        self.table = w.HTML()
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.refresh_button.on_click(lambda _: self.refresh())
        self.box = w.VBox([self.refresh_button, self.table])
        if self.refresh():
            live.watcher_for(client).add(self.refresh)

    def refresh(self) -> bool:
        """Reload; returns whether some listed run is still going."""
        self.runs = self.client.runs.list(**self.filters)
        head = "<tr><th>run</th><th>workflow</th><th>status</th><th>created</th><th>took</th></tr>"
        body = "".join(_row(r) for r in self.runs) or '<tr><td colspan="5">no runs</td></tr>'
        self.table.value = f"<table>{head}{body}</table>"
        return any(str(r.status) not in live.FINAL for r in self.runs)

    def _ipython_display_(self) -> None:
        live.show(self.box)

    def __repr__(self) -> str:
        return f"<RunsTable {len(self.runs)} runs>"
