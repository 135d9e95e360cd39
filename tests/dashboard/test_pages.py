"""Every dashboard page loads in Chromium without console errors and shows seeded data."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.integration]


def _visible(page: Any, text: str) -> None:
    page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=15_000)


def test_every_page_loads_and_shows_seeded_data(page: Any, seeded: dict[str, Any]) -> None:
    expected = {
        "runs": [seeded["ok"], seeded["failed"], "SUCCEEDED 2", "FAILED 1"],
        f"run&id={seeded['ok']}": ["extracting", "loaded"],
        "workflows&name=etl": ["def extract", "def load"],
        "workers": ["test-worker"],
        "triggers": ["nightly", "0 3 * * *", "key failed", seeded["scheduled"].id],
        "events": ["user:created"],
        "flow": ["Concurrency keys", "external-api"],
        "alerts": ["Slack incoming webhook URL"],
        "metrics": ["queued now", "SUCCEEDED"],
    }
    for query, texts in expected.items():
        p = page.open(f"?page={query}")
        for text in texts:
            _visible(p, text)
        page.shot(query.split("&")[0].replace("=", "-"))
    assert page.errors == []
