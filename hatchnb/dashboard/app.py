"""The dashboard's entry point: ``create_app(config)`` builds the page named by ``?page=``.

``hatchnb dashboard`` (``serve.py``) serves it bound to its client and auth settings;
``panel serve server/app.py`` builds the same config from the environment."""

from __future__ import annotations

import panel as pn

from hatchnb.dashboard import common
from hatchnb.dashboard.pages import (
    alerts,
    audit,
    events,
    flow,
    metrics,
    run_detail,
    run_diff,
    runs,
    triggers,
    workers,
    workflows,
)

BUILDERS = {
    "runs": runs.build,
    "workflows": workflows.build,
    "workers": workers.build,
    "triggers": triggers.build,
    "events": events.build,
    "flow": flow.build,
    "alerts": alerts.build,
    "metrics": metrics.build,
    "audit": audit.build,
}


def create_app(config: common.DashboardConfig) -> pn.viewable.Viewable:
    """The page of the current session (runs by default)."""
    page = common.arg("page") or "runs"
    if page == "run":
        body = run_detail.build(config, common.arg("id"))
        current = "runs"
    elif page == "diff":
        body = run_diff.build(config, common.arg("a"), common.arg("b"))
        current = "runs"
    else:
        builder = BUILDERS.get(page)
        body = (
            builder(config)
            if builder
            else pn.pane.HTML(common.message(f"no page {page!r}", "error"))
        )
        current = page
    user = common.current_user(config) if config.auth_enabled else None
    return pn.Column(common.nav(current, user), body, sizing_mode="stretch_width", name="hatchnb")
