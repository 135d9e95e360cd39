"""Workers: slots used, labels, last heartbeat and the tasks each one runs."""

from __future__ import annotations

import json

import panel as pn

from hatchnb.dashboard import common

WORKER_COLUMNS = ["name", "status", "slots_used", "labels", "last_heartbeat", "host", "pid", "id"]
TASK_COLUMNS = ["worker", "run", "task_name", "attempt", "started"]


class WorkersPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        self.workers = common.table(WORKER_COLUMNS, "workers_table")
        self.tasks = common.table(TASK_COLUMNS, "running_tasks", html=["run"])

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(1000, self.refresh)
        return pn.Column(
            "## Workers", self.workers, "### Running tasks", self.tasks, sizing_mode="stretch_width"
        )

    def refresh(self) -> None:
        workers = self.hatchet.workers.list()
        names = {w.id: w.name for w in workers}
        rows = [
            {
                "name": w.name,
                "status": w.status,
                "slots_used": f"{w.running}/{w.slots}",
                "labels": json.dumps(w.label_map),
                "last_heartbeat": common.when(w.last_heartbeat_at),
                "host": w.hostname,
                "pid": w.pid,
                "id": w.id,
            }
            for w in workers
        ]
        common.update_table(self.workers, common.frame(rows, WORKER_COLUMNS))
        tasks = [
            {
                "worker": names.get(t["worker_id"], t["worker_id"][:8]),
                "run": common.run_link(t["run_id"]),
                "task_name": t["task_name"],
                "attempt": t["attempt"],
                "started": common.when(t["started_at"]),
            }
            for t in self.hatchet.workers.running_tasks()
        ]
        common.update_table(self.tasks, common.frame(tasks, TASK_COLUMNS))


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return WorkersPage(config).view()
