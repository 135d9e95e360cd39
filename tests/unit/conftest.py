"""The fast tier runs with no database: any test that tries to reach one fails at once
(an unreachable URL) instead of finding a server or starting the embedded one."""

from __future__ import annotations

import pytest

UNREACHABLE = "postgresql://nobody@127.0.0.1:9/none?connect_timeout=1"


@pytest.fixture(autouse=True)
def _no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_DATABASE_URL", UNREACHABLE)
