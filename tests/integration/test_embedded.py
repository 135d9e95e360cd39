"""With no HATCHNB_DATABASE_URL, hatchnb starts its embedded PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.embedded


def test_quickstart_runs_on_the_embedded_postgres(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "HATCHNB_DATABASE_URL"}
    env["HATCHNB_HOME"] = str(tmp_path / "home")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "hatchnb", "quickstart"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert "  total: {'sum': 12, 'count': 3}" in done.stdout
        assert f"using the embedded PostgreSQL in {tmp_path / 'home' / 'pgdata'}" in done.stderr
        assert "stop it with: hatchnb embedded stop" in done.stdout
        status = [sys.executable, "-m", "hatchnb", "embedded", "status"]
        running = subprocess.run(status, env=env, capture_output=True, text=True, timeout=30)
        assert "running (pid" in running.stdout
        stop = [sys.executable, "-m", "hatchnb", "embedded", "stop"]
        stopped = subprocess.run(stop, env=env, capture_output=True, text=True, timeout=60)
        assert stopped.stdout.strip().endswith(": stopped"), stopped.stderr
        after = subprocess.run(status, env=env, capture_output=True, text=True, timeout=30)
        assert after.stdout.strip().endswith(": stopped")
    finally:
        pidfile = tmp_path / "home" / "pgdata" / "postmaster.pid"
        if pidfile.exists():
            os.kill(int(pidfile.read_text().split()[0]), signal.SIGTERM)
