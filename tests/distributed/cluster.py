"""Throwaway PostgreSQL clusters and worker processes, optionally inside a network namespace.

Used by the database-loss and network-partition tests, which must stop, start and cut off
a server without touching the shared test server."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Process

__all__ = ["Cluster", "Process", "started"]


def postgres_bindir() -> Path:
    """The newest installed server binaries, or skip."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    found = shutil.which("initdb")
    path = Path(candidates[-1]).parent if candidates else Path(found).parent if found else None
    if path is None:
        pytest.skip("no PostgreSQL server binaries (initdb) to start a throwaway cluster")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user() -> list[str]:
    """PostgreSQL refuses to run as root: root runs it as the postgres OS user."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: cannot start PostgreSQL as postgres")
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no postgres OS user to run PostgreSQL")
    return ["runuser", "-u", "postgres", "--"]


class Cluster:
    """One initdb'ed data directory in its own temporary folder. ``netns`` runs the server
    inside that network namespace, listening on ``listen`` (the first one is the address in
    :meth:`dsn`) and trusting ``clients`` (a network); its Unix socket, a file, is reachable
    from every namespace (:meth:`socket_dsn`)."""

    def __init__(
        self,
        listen: tuple[str, ...] = ("127.0.0.1",),
        port: int | None = None,
        netns: str = "",
        clients: str = "",
    ) -> None:
        self.bindir = postgres_bindir()
        self.user_prefix = _as_server_user()
        self.listen = listen
        self.host = listen[0]
        self.port = port or free_port()
        self.netns = netns
        self.clients = clients
        self.root = Path(tempfile.mkdtemp(prefix="hatchnb-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        if self.user_prefix:
            shutil.chown(self.root, "postgres")
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
        )
        self._configure()

    def _configure(self) -> None:
        extra = [
            f"listen_addresses = '{','.join(self.listen)}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.root}'",
            "fsync = off",  # a process crash, not an OS crash: fsync changes nothing here
            "shared_buffers = 16MB",
            "max_connections = 60",
        ]
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join(extra) + "\n")
        if self.clients:
            with (self.data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {self.clients} trust\n")

    def _command(self, tool: str, *args: str) -> list[str]:
        netns = ["ip", "netns", "exec", self.netns] if self.netns else []
        return [*netns, *self.user_prefix, str(self.bindir / tool), *args]

    def _run(self, tool: str, *args: str) -> None:
        done = subprocess.run(
            self._command(tool, *args), capture_output=True, text=True, timeout=60
        )
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr}{self.log()}")

    def dsn(self, database: str = "postgres", password: str = "", host: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@{host or self.host}:{self.port}/{database}"

    def socket_dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.root}&port={self.port}"

    def start(self) -> None:
        self._run(
            "pg_ctl", "start", "-w", "-t", "30", "-D", str(self.data), "-l", str(self.logfile)
        )

    def stop(self, mode: str = "immediate") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "stop", "-w", "-t", "30", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.socket_dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.dsn(name)

    def log(self) -> str:
        return self.logfile.read_text() if self.logfile.exists() else ""

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def started(server: Cluster) -> Iterator[Cluster]:
    """Start a cluster; stop it and delete its folder afterwards, also on failure."""
    try:
        server.start()
        yield server
    finally:
        server.destroy()
