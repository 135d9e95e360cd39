"""Which URL a connection uses behind a transaction-mode pooler (no database needed)."""

from __future__ import annotations

import pytest

from hatchnb.store.db import direct_dsn, pool_params

POOLED = "postgresql://app@pgbouncer:6432/hatchnb"
DIRECT = "postgresql://app@postgres:5432/hatchnb"


def test_sessions_go_direct_and_pools_drop_session_state(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_DATABASE_URL", POOLED)
    monkeypatch.setenv("HATCHNB_DATABASE_DIRECT_URL", DIRECT)
    assert direct_dsn(POOLED) == DIRECT
    assert direct_dsn("postgresql://other/db") == "postgresql://other/db"
    params = pool_params(POOLED, "-c jit=off")
    assert params["prepare_threshold"] is None
    assert "options" not in params  # PgBouncer refuses the startup parameter


def test_without_a_direct_url_nothing_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HATCHNB_DATABASE_URL", DIRECT)
    monkeypatch.delenv("HATCHNB_DATABASE_DIRECT_URL", raising=False)
    assert direct_dsn(DIRECT) == DIRECT
    params = pool_params(DIRECT, "-c jit=off")
    assert "prepare_threshold" not in params
    assert params["options"].startswith("-c jit=off")
