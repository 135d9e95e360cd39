"""Workflows and their versions: the DAG and the source of each task; pause and resume;
run one from a form made from its input schema."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import panel as pn

from hatchnb.dashboard import common
from hatchnb.dashboard.pages.run_form import RunFormPanel
from hatchnb.records import Role
from hatchnb.widgets.dag import DagView

COLUMNS = ["workflow", "state", "versions", "latest_version_id", "updated"]


class WorkflowsPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        self.table = common.table(COLUMNS, "workflows_table", html=["workflow"])
        names = [w.name for w in self.hatchet.workflows.list()]
        wanted = common.arg("name")
        self.workflow = pn.widgets.Select(
            label="Workflow", options=names, value=wanted if wanted in names else None, width=260
        )
        self.version = pn.widgets.Select(label="Version", options={}, width=260)
        self.detail = pn.Column(name="workflow_detail", sizing_mode="stretch_width")
        self.queue_ttl = pn.widgets.FloatInput(
            label="Cancel runs queued longer than (hours)", value=24.0, start=0.01, width=260
        )
        self.pause = pn.widgets.Button(label="Pause workflow", color="warning", width=150)
        self.feedback = pn.pane.HTML("", name="pause_feedback")
        self.run_form = RunFormPanel(config)
        common.enable_for(config, Role.OPERATOR, self.pause)
        self.pause.on_click(lambda _: self._toggle_pause())
        self.workflow.param.watch(self._workflow_changed, "value")
        self.version.param.watch(self._version_changed, "value")

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        if self.workflow.value is None and self.workflow.options:
            self.workflow.value = self.workflow.options[0]
        else:
            self._workflow_changed(None)
        common.every(2000, self.refresh)
        return pn.Column(
            "## Workflows",
            self.table,
            pn.Row(self.workflow, self.version),
            pn.Row(self.queue_ttl, self.pause, self.feedback),
            self.run_form.panel,
            self.detail,
            sizing_mode="stretch_width",
        )

    def refresh(self) -> None:
        workflows = self.hatchet.workflows.list()
        rows = [
            {
                "workflow": common.workflow_link(w.name),
                "state": "paused" if w.is_paused else "active",
                "versions": w.versions,
                "latest_version_id": w.latest_version_id,
                "updated": common.when(w.updated_at),
            }
            for w in workflows
        ]
        common.update_table(self.table, common.frame(rows, COLUMNS))
        names = [w.name for w in workflows]
        if names != list(self.workflow.options):
            self.workflow.options = names
        paused = {w.name for w in workflows if w.is_paused}
        self.pause.label = "Resume workflow" if self.workflow.value in paused else "Pause workflow"

    def _toggle_pause(self) -> None:
        name = self.workflow.value
        user = common.authorize(self.config, Role.OPERATOR, "pause workflows", self.feedback)
        if user is None or not name:
            return
        if self.hatchet.workflows.get(name).is_paused:
            self.hatchet.workflows.unpause(name)
            common.audit(self.config, user, "unpause", name)
            text = f"{name} resumed: workers start its queued runs"
        else:
            ttl = timedelta(hours=float(self.queue_ttl.value or 24.0))
            self.hatchet.workflows.pause(name, ttl)
            common.audit(self.config, user, "pause", name, queue_ttl=str(ttl))
            text = f"{name} paused: its runs wait, and are cancelled after {ttl} queued"
        self.feedback.object = common.message(text, "ok")
        self.refresh()

    def _workflow_changed(self, _: Any) -> None:
        if not self.workflow.value:
            return
        self.run_form.show(self.workflow.value)
        versions = self.hatchet.workflows.versions(self.workflow.value)
        self.version.options = {
            f"#{v.id} · {common.when(v.created_at)} · {v.content_hash[:10]}": v.id for v in versions
        }
        if versions:
            self.version.value = versions[0].id
            self._version_changed(None)

    def _version_changed(self, _: Any) -> None:
        if self.version.value is None:
            return
        version = self.hatchet.workflows.get_version(int(self.version.value))
        dag = DagView(version.parents, name="workflow_dag")
        sources = [
            _source_html(task["name"], version.sources.get(task["name"]))
            for task in version.spec.get("tasks", []) + version.spec.get("hooks", [])
        ]
        self.detail[:] = [
            pn.pane.HTML(
                f"<p>Python {html.escape(version.python_version)} · registered "
                f"{common.when(version.created_at)}</p>"
            ),
            dag.panel(),
            pn.pane.HTML("".join(sources), name="sources", sizing_mode="stretch_width"),
        ]


def _source_html(task_name: str, code: str | None) -> str:
    """A task's name and source as text (both come from whoever registered the code)."""
    return (
        f"<h4>{html.escape(task_name)}</h4>"
        f"<pre><code>{html.escape(code or '# source not recorded')}</code></pre>"
    )


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return WorkflowsPage(config).view()
