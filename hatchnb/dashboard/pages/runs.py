"""Runs: filters, live status counts, pagination, bulk cancel and replay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import panel as pn

from hatchnb import errors
from hatchnb.dashboard import common
from hatchnb.records import Role, RunStatus, WorkflowRun

PAGE_SIZE = 50
RANGES = {
    "last 15 minutes": timedelta(minutes=15),
    "last hour": timedelta(hours=1),
    "last 24 hours": timedelta(days=1),
    "last 7 days": timedelta(days=7),
    "last 30 days": timedelta(days=30),
}
#: "id" is hidden: the selection's run ids
COLUMNS = ["run", "workflow", "status", "trigger", "created", "duration", "metadata", "id"]
#: runs are counted up to this many, in all and per status (exact counts over a million runs
#: take 50-150 ms, at every refresh); beyond it the page says "10,000+"
COUNT_CAP = 10_000


def total_label(total: int) -> str:
    return f"{COUNT_CAP:,}+" if total > COUNT_CAP else str(total)


def parse_metadata(text: str) -> dict[str, str]:
    """``"team=ml, env=prod"`` -> ``{"team": "ml", "env": "prod"}``; raises on a bad pair."""
    pairs: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"{part!r}: write metadata filters as key=value")
        pairs[key.strip()] = value.strip()
    return pairs


class RunsPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        workflows = [w.name for w in self.hatchet.workflows.list()]
        self.workflow = pn.widgets.MultiChoice(
            label="Workflow", options=common.html_choices(workflows), width=260
        )
        self.status = pn.widgets.MultiChoice(
            label="Status", options=[s.value for s in RunStatus], width=260
        )
        self.range = pn.widgets.Select(
            label="Time range", options=list(RANGES), value="last 24 hours", width=160
        )
        self.metadata = pn.widgets.TextInput(
            label="Metadata (key=value, ...)", placeholder="team=ml", width=220
        )
        self.search = pn.widgets.TextInput(
            label="Run id", placeholder="a run's id (UUID)", width=300
        )
        self.counts = pn.pane.HTML("", name="status_counts")
        self.table = common.table(
            COLUMNS, "runs_table", html=["run"], selectable=True, hidden_columns=["id"]
        )
        self.page_label = pn.pane.HTML("", name="page_label")
        self.previous = pn.widgets.Button(label="◀ Previous", width=110)
        self.next = pn.widgets.Button(label="Next ▶", width=110)
        self.cancel = pn.widgets.Button(label="Cancel selected", color="danger", width=150)
        self.replay = pn.widgets.Button(label="Replay selected", color="warning", width=150)
        self.feedback = pn.pane.HTML("", name="feedback")
        common.enable_for(config, Role.OPERATOR, self.cancel, self.replay)
        self.offset = 0
        self.total = 0
        self._wire()

    def _wire(self) -> None:
        for widget in (self.workflow, self.status, self.range, self.metadata, self.search):
            widget.param.watch(self._filters_changed, "value")
        self.previous.on_click(lambda _: self._move(-PAGE_SIZE))
        self.next.on_click(lambda _: self._move(PAGE_SIZE))
        self.cancel.on_click(lambda _: self._act("cancel"))
        self.replay.on_click(lambda _: self._act("replay"))

    def view(self) -> pn.viewable.Viewable:
        filters = pn.Row(self.workflow, self.status, self.range, self.metadata, self.search)
        pager = pn.Row(self.previous, self.page_label, self.next, self.cancel, self.replay)
        self.refresh()
        common.every(common.POLL_MS, self.refresh)
        return pn.Column("## Runs", filters, self.counts, pager, self.feedback, self.table)

    def filters(self) -> dict[str, Any]:
        return {
            "since": datetime.now(UTC) - RANGES[self.range.value],
            "workflow_names": list(self.workflow.value) or None,
            "additional_metadata": parse_metadata(self.metadata.value) or None,
        }

    def refresh(self) -> None:
        try:
            filters = self.filters()
        except ValueError as exc:
            # no rows rather than the previous filter's: they would read as this filter's
            self.feedback.object = common.message(str(exc), "error")
            self._show_counts({})
            self._show([], 0)
            return
        if self.search.value.strip():
            found = self._searched(self.search.value.strip())
            self._show(found, len(found))
            return
        statuses = list(self.status.value) or None
        runs = self.hatchet.runs.list(
            **filters, statuses=statuses, limit=PAGE_SIZE, offset=self.offset
        )
        total = self.hatchet.runs.count(**filters, statuses=statuses, cap=COUNT_CAP + 1)
        self._show_counts(self.hatchet.runs.status_counts(**filters, cap=COUNT_CAP + 1))
        self._show(list(runs), total)

    def _searched(self, run_id: str) -> list[WorkflowRun]:
        try:
            return [self.hatchet.runs.get(run_id, task_events=False)]
        except (errors.RunNotFound, ValueError):
            self.feedback.object = common.message(f"no run has the id {run_id!r}", "error")
            return []

    def _show(self, runs: list[WorkflowRun], total: int) -> None:
        """The table's rows, and ``total`` (all matching runs) for the pager."""
        self.total = total
        rows = [
            {
                "run": common.run_link(r.workflow_run_id),
                "id": r.workflow_run_id,
                "workflow": r.workflow_name,
                "status": str(r.status),
                "trigger": r.trigger,
                "created": common.when(r.created_at),
                "duration": _duration(r.duration),
                "metadata": ", ".join(f"{k}={v}" for k, v in r.additional_metadata.items()),
            }
            for r in runs
        ]
        common.update_table(self.table, common.frame(rows, COLUMNS))
        last = min(self.offset + PAGE_SIZE, self.total)
        label = f"{self.offset + 1 if self.total else 0}-{last} of {total_label(self.total)}"
        if self.page_label.object != label:
            self.page_label.object = label

    def _show_counts(self, counts: dict[str, int]) -> None:
        badges = "".join(common.badge(s, total_label(counts[s])) for s in RunStatus if s in counts)
        text = badges or "no runs in this range"
        if self.counts.object != text:
            self.counts.object = text

    def _filters_changed(self, _: Any) -> None:
        self.offset = 0
        self.feedback.object = ""
        self.refresh()

    def _move(self, step: int) -> None:
        self.offset = max(0, min(self.offset + step, max(self.total - 1, 0)))
        self.offset -= self.offset % PAGE_SIZE
        self.refresh()

    def selected_ids(self) -> list[str]:
        data = self.table.value
        return [str(data.iloc[i]["id"]) for i in self.table.selection if i < len(data)]

    def _act(self, action: str) -> None:
        user = common.authorize(self.config, Role.OPERATOR, "cancel or replay runs", self.feedback)
        if user is None:
            return
        ids = self.selected_ids()
        if not ids:
            self.feedback.object = common.message("select runs in the table first", "error")
            return
        if action == "cancel":
            self.hatchet.runs.bulk_cancel(ids)
        else:
            self.hatchet.runs.bulk_replay(ids)
        common.audit(self.config, user, action, " ".join(ids), runs=len(ids))
        done = "cancelled" if action == "cancel" else "replayed"
        self.feedback.object = common.message(f"{done} {len(ids)} run(s)", "ok")
        self.refresh()


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return RunsPage(config).view()


def _duration(milliseconds: int | None) -> str:
    if milliseconds is None:
        return ""
    if milliseconds < 1000:
        return f"{milliseconds} ms"
    seconds = milliseconds / 1000
    return f"{seconds:.1f} s" if seconds < 120 else f"{seconds / 60:.1f} min"
