"""Shared pieces of the dashboard pages: the config they read through, session arguments,
live polling, permissions, tables and formatting."""

from __future__ import annotations

import dataclasses
import html
import logging
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd
import panel as pn

from hatchnb.dashboard import auth
from hatchnb.records import Role
from hatchnb.widgets.dag import STATUS_COLORS

if TYPE_CHECKING:
    from hatchnb.client import Hatchet

log = logging.getLogger("hatchnb.dashboard")

#: milliseconds between two looks at Postgres on a live page
POLL_MS = 500

PAGES = {
    "runs": "Runs",
    "workflows": "Workflows",
    "workers": "Workers",
    "triggers": "Crons & schedules",
    "events": "Events",
    "flow": "Rate limits & concurrency",
    "alerts": "Alerts",
    "metrics": "Metrics",
    "audit": "Audit log",
}


@dataclasses.dataclass(frozen=True)
class DashboardConfig:
    """What every page of one served dashboard reads through, passed in by whoever serves
    it (``hatchnb.dashboard.serve`` or ``server/app.py``)."""

    client: Hatchet
    #: served with a login: actions need a logged-in user with a role that allows them
    auth_enabled: bool
    #: who is logged in (None under ``panel serve``: Panel's user, as an admin)
    access: auth.Access | None = None
    #: viewers see inputs, outputs and payloads (HATCHNB_DASHBOARD_VIEWER_PAYLOADS)
    viewer_payloads: bool = True


def arg(name: str) -> str | None:
    """A query-string argument of the current session (``?page=run&id=...``)."""
    values = pn.state.session_args.get(name) if pn.state.session_args else None
    return values[0].decode() if values else None


#: the order of the roles: each may do what the ones before it may
RANKS = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.ADMIN: 2}


def current_user(config: DashboardConfig) -> auth.Identity | None:
    """Who acts in this session, with their role now (None: not logged in, or the login
    expired)."""
    if config.access is not None:
        payload = pn.state.curdoc.session_context.token_payload
        return config.access.identify_session(payload.get(auth.SESSION_CLAIMS) or {})
    if not (config.auth_enabled or pn.config.basic_auth):
        return auth.LOCAL
    return auth.Identity(pn.state.user, Role.ADMIN) if pn.state.user else None


def may(config: DashboardConfig, role: Role) -> bool:
    user = current_user(config)
    return user is not None and RANKS[user.role] >= RANKS[role]


def authorize(
    config: DashboardConfig, role: Role, what: str, feedback: pn.pane.HTML
) -> auth.Identity | None:
    """The user, when their role is at least ``role``; otherwise None, and ``feedback``
    says why (``what``: "cancel or replay runs")."""
    user = current_user(config)
    if user is None:
        feedback.object = message(f"log in to {what}", "error")
        return None
    if RANKS[user.role] < RANKS[role]:
        article = "an" if user.role.value[0] in "aeiou" else "a"
        text = f"{user.name} is {article} {user.role}: to {what} you need the {role} role"
        feedback.object = message(text, "error")
        return None
    return user


def audit(
    config: DashboardConfig,
    user: auth.Identity,
    action: str,
    target: str = "",
    **detail: Any,
) -> None:
    """Record an action taken from the dashboard (``hatchet.audit``)."""
    config.client.audit.record(user.name, user.role.value, action, target, detail)


#: what a viewer sees instead of a payload when HATCHNB_DASHBOARD_VIEWER_PAYLOADS is off
HIDDEN = "(hidden from viewers)"


def shows_payloads(config: DashboardConfig) -> bool:
    """Whether this session's user may see run inputs, outputs, event payloads and executed
    notebooks: everyone, unless the dashboard hides them from viewers."""
    if config.viewer_payloads:
        return True
    user = current_user(config)
    return user is not None and user.role is not Role.VIEWER


def enable_for(config: DashboardConfig, role: Role, *buttons: pn.widgets.Button) -> None:
    """Grey out buttons the session's user may not use (the actions check again)."""
    allowed = may(config, role)
    for button in buttons:
        button.disabled = not allowed


def every(period_ms: int, update: Callable[[], None]) -> None:
    """Call ``update`` on this session's loop every ``period_ms`` (the document lock is held,
    so Bokeh models may be changed); errors are logged, the polling continues."""

    def safe() -> None:
        try:
            update()
        except Exception:
            log.exception("dashboard refresh failed")

    pn.state.add_periodic_callback(safe, period=period_ms)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def seconds(start: datetime | None, end: datetime | None) -> str:
    if start is None or end is None:
        return ""
    return f"{(end - start).total_seconds():.3f}"


def badge(status: str, count: int | str | None = None) -> str:
    color = STATUS_COLORS.get(status, "#eeeeee")
    text = f"{status} {count}" if count is not None else status
    return (
        f'<span class="hatchnb-badge" data-status="{html.escape(status)}" '
        f'style="background:{color};'
        f'padding:2px 8px;border-radius:8px;margin-right:6px">{html.escape(text)}</span>'
    )


def run_link(run_id: str) -> str:
    safe = html.escape(run_id)
    return f'<a href="?page=run&id={urllib.parse.quote(run_id)}">{safe}</a>'


def workflow_link(name: str) -> str:
    href = html.escape(f"?page=workflows&name={urllib.parse.quote(name, safe='')}")
    return f'<a href="{href}">{html.escape(name)}</a>'


def html_choices(names: Iterable[str]) -> dict[str, str]:
    """Options of a ``MultiChoice``, whose labels Bokeh renders as HTML (Choices.js with
    ``allowHTML``): each label escaped, mapped to the name it stands for."""
    return {html.escape(name): name for name in names}


def frame(rows: Iterable[Mapping[str, Any]], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame([{c: r.get(c) for c in columns} for r in rows], columns=columns)


def table(columns: list[str], name: str, **options: Any) -> pn.widgets.Tabulator:
    """A read-only table; cells named in ``html`` render as HTML (links)."""
    html_columns = options.pop("html", [])
    return pn.widgets.Tabulator(
        frame([], columns),
        disabled=True,
        show_index=False,
        formatters={c: {"type": "html"} for c in html_columns},
        sizing_mode="stretch_width",
        **options,
    )


def update_table(widget: pn.widgets.Tabulator, data: pd.DataFrame) -> bool:
    """Replace the table's rows only when they changed (a live page polls often)."""
    current = widget.value
    same_shape = current is not None and list(current.columns) == list(data.columns)
    if same_shape and current.astype(str).equals(data.astype(str)):
        return False
    widget.value = data
    return True


def message(text: str, kind: str = "info") -> str:
    colors = {"info": "#2e6da4", "error": "#b00020", "ok": "#2e7d32"}
    return f'<span style="color:{colors.get(kind, "#333")}">{html.escape(text)}</span>'


def nav(current: str, user: auth.Identity | None = None) -> pn.pane.HTML:
    """The page links, and who is logged in (with a way out) when the dashboard has logins."""
    links = []
    for key, title in PAGES.items():
        style = "font-weight:bold;" if key == current else ""
        links.append(f'<a href="?page={key}" style="{style}margin-right:14px">{title}</a>')
    return pn.pane.HTML(
        '<div class="hatchnb-nav" style="padding:6px 0;border-bottom:1px solid #ddd">'
        + "<b style='margin-right:20px'>hatchnb</b>"
        + "".join(links)
        + (_signed_in(user) if user else "")
        + "</div>",
        sizing_mode="stretch_width",
    )


def _signed_in(user: auth.Identity) -> str:
    return (
        f'<span class="hatchnb-user" style="float:right">{html.escape(user.name)} '
        f'({user.role}) · <a href="logout">log out</a></span>'
    )
