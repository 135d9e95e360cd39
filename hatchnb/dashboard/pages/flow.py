"""Rate limits and concurrency keys: current usage (``hatchet.rate_limits.list()`` and
``hatchet.concurrency.list()``)."""

from __future__ import annotations

import dataclasses
from typing import Any

import panel as pn

from hatchnb.dashboard import common

RATE_COLUMNS = ["key", "limit", "duration", "used", "queued", "window_start"]
CONCURRENCY_COLUMNS = [
    "workflow_name",
    "task_name",
    "key",
    "expression",
    "strategy",
    "max_runs",
    "running",
    "queued",
]


def _records(client: Any, attribute: str) -> list[dict[str, Any]] | None:
    """The records of ``hatchet.<attribute>.list()``, or None when this hatchnb lacks it."""
    feature = getattr(client, attribute, None)
    if feature is None:
        return None
    out = []
    for record in feature.list():
        is_record = dataclasses.is_dataclass(record) and not isinstance(record, type)
        row = dataclasses.asdict(record) if is_record else dict(record)
        out.append({k: (common.when(v) if hasattr(v, "strftime") else v) for k, v in row.items()})
    return out


class FlowPage:
    def __init__(self, config: common.DashboardConfig) -> None:
        self.config = config
        self.hatchet = config.client
        self.rates = common.table(RATE_COLUMNS, "rate_limits_table")
        self.keys = common.table(CONCURRENCY_COLUMNS, "concurrency_table")
        self.note = pn.pane.HTML("")

    def view(self) -> pn.viewable.Viewable:
        self.refresh()
        common.every(1000, self.refresh)
        return pn.Column(
            "## Rate limits",
            self.rates,
            "## Concurrency keys",
            self.keys,
            self.note,
            sizing_mode="stretch_width",
        )

    def refresh(self) -> None:
        rates = _records(self.hatchet, "rate_limits")
        keys = _records(self.hatchet, "concurrency")
        if rates is None or keys is None:
            self.note.object = common.message("this hatchnb has no flow control yet", "error")
        common.update_table(self.rates, common.frame(rates or [], RATE_COLUMNS))
        common.update_table(self.keys, common.frame(keys or [], CONCURRENCY_COLUMNS))


def build(config: common.DashboardConfig) -> pn.viewable.Viewable:
    return FlowPage(config).view()
