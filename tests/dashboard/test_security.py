"""Binding and authentication of the dashboard and its /metrics endpoint."""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any

import pytest

from hatchnb.dashboard import serve as dashboard

pytestmark = pytest.mark.integration


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, url, exc.read().decode()


def test_refuses_a_non_loopback_address_without_a_secret(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(dashboard.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(dashboard.TOKEN_ENV, raising=False)
    with pytest.raises(dashboard.InsecureDashboard):
        dashboard.start_dashboard(hatchet, address="0.0.0.0")
    assert dashboard.is_loopback("127.0.0.1") and dashboard.is_loopback("::1")
    assert not dashboard.is_loopback("192.168.1.20")


def test_unauthenticated_requests_to_a_public_dashboard_are_refused(
    hatchet: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(dashboard.PASSWORD_ENV, "s3cret-pass")
    handle = dashboard.start_dashboard(hatchet, address="0.0.0.0")
    try:
        status, final_url, body = _get(handle.url + "?page=runs")
        assert "/login" in final_url  # sent to the login page, no app content
        assert "hatchnb-nav" not in body
        status, _, _ = _get(handle.url + "metrics")
        assert status == 401
        status, _, text = _get(handle.url + "metrics", {"Authorization": "Bearer s3cret-pass"})
        assert status == 200
        assert "# TYPE hatchnb_queue_to_start_seconds histogram" in text
    finally:
        handle.stop()


def test_metrics_endpoint_on_loopback(dashboard: Any, seeded: dict[str, Any]) -> None:
    status, _, text = _get(dashboard.url + "metrics")
    assert status == 200
    assert 'hatchnb_task_runs{status="SUCCEEDED"}' in text
    assert 'hatchnb_queue_to_start_seconds_bucket{le="+Inf"}' in text
    assert "hatchnb_queue_to_start_seconds_count " in text
