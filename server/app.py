"""Deployable entry of the dashboard: ``panel serve server/app.py`` (with
HATCHNB_DATABASE_URL and, off loopback, HATCHNB_DASHBOARD_PASSWORD set). The app itself is
``hatchnb.dashboard``; this file is not part of the wheel."""

from __future__ import annotations

import panel as pn

from hatchnb import Hatchet
from hatchnb.dashboard.app import create_app
from hatchnb.dashboard.common import DashboardConfig
from hatchnb.dashboard.serve import dashboard_secret

if __name__.startswith("bokeh_app"):  # run by `panel serve server/app.py`
    # panel runs this file once per session: one client per server process
    client = pn.state.as_cached("hatchnb-client", Hatchet)
    config = DashboardConfig(client, auth_enabled=dashboard_secret() is not None)
    create_app(config).servable(title="hatchnb")
