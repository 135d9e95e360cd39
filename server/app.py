"""Deployable entry of the dashboard: ``panel serve server/app.py`` (with
HATCHNB_DATABASE_URL and, off loopback, HATCHNB_DASHBOARD_PASSWORD set). The app itself is
``hatchnb.dashboard``; this file is not part of the wheel."""

from __future__ import annotations

from hatchnb.dashboard.app import create_app

if __name__.startswith("bokeh_app"):  # run by `panel serve server/app.py`
    create_app().servable(title="hatchnb")
