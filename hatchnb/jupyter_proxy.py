"""The dashboard inside JupyterLab (and JupyterHub): a jupyter-server-proxy server entry.

With ``pip install "hatchnb[lab]"``, Jupyter starts ``hatchnb dashboard`` on a free
loopback port the first time someone opens ``<jupyter base url>/hatchnb/`` (or clicks the
launcher tile) and proxies it there, behind Jupyter's own login. The dashboard is served
under that prefix (``--prefix``), since its pages and websocket keep the full path.

Its websocket accepts only its own origin. The browser's origin is the Jupyter server's,
which Jupyter checks (same origin) before it proxies; the proxy then presents the
dashboard's own origin, so a page elsewhere that reaches the loopback port directly is
still refused."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

#: the path under Jupyter's base URL
PROXY_NAME = "hatchnb"
ICON = Path(__file__).resolve().parent / "static" / "hatchnb.svg"
#: seconds Jupyter waits for the dashboard to listen (an embedded PostgreSQL may start first)
START_TIMEOUT = 60


def dashboard_server() -> dict[str, Any]:
    """jupyter-server-proxy's server settings (the ``jupyter_serverproxy_servers`` entry
    point). ``{port}`` and ``{base_url}`` are filled in by the proxy."""
    return {
        "command": [
            sys.executable,
            "-m",
            "hatchnb",
            "dashboard",
            "--address",
            "127.0.0.1",
            "--port",
            "{port}",
            "--prefix",
            "{base_url}" + PROXY_NAME,
        ],
        # the dashboard sees the whole path (its pages link to their scripts under it)
        "absolute_url": True,
        "timeout": START_TIMEOUT,
        "request_headers_override": {"Origin": "http://127.0.0.1:{port}"},
        "launcher_entry": {
            "enabled": True,
            "title": "hatchnb dashboard",
            "icon_path": str(ICON),
        },
    }
