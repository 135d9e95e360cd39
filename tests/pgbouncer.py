"""A real PgBouncer in transaction mode in front of the test PostgreSQL (for the fixtures)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PGBOUNCER = "/usr/sbin/pgbouncer"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgBouncer:
    """``pgbouncer`` as a child process: every database of ``server_dsn``'s server is
    reachable through it (a wildcard entry), in transaction pooling mode. ``netns`` runs it
    in that network namespace, listening on ``listen``; the tests reach its admin console
    through its Unix socket, a file reachable from every namespace."""

    def __init__(
        self, server_dsn: str, listen: str = "127.0.0.1", netns: str = "", port: int = 0
    ) -> None:
        server = conninfo_to_dict(server_dsn)
        self.user = str(server.get("user") or "postgres")
        self.listen = listen
        self.port = port or _free_port()
        self.home = Path(tempfile.mkdtemp(prefix="hatchnb-pgbouncer-"))
        self.home.chmod(0o777)  # pgbouncer drops root for "nobody" and writes its log here
        (self.home / "users.txt").write_text(f'"{self.user}" ""\n')
        host, server_port = server.get("host") or "127.0.0.1", server.get("port") or 5432
        (self.home / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={host} port={server_port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {listen}\nlisten_port = {self.port}\nunix_socket_dir = {self.home}\n"
            f"auth_type = trust\nauth_file = {self.home / 'users.txt'}\n"
            f"admin_users = {self.user}\nstats_users = {self.user}\n"
            "pool_mode = transaction\ndefault_pool_size = 20\nmax_client_conn = 500\n"
            "server_reset_query =\nignore_startup_parameters = extra_float_digits\n"
            f"logfile = {self.home / 'pgbouncer.log'}\n"
        )
        command = [PGBOUNCER, str(self.home / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "nobody"]  # it refuses to run as root
        if netns:
            command[:0] = ["ip", "netns", "exec", netns]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._wait_ready()

    def url(self, database: str) -> str:
        return make_conninfo(
            f"postgresql://{self.user}@{self.listen}:{self.port}/{database}", connect_timeout=10
        )

    def socket_url(self, database: str) -> str:
        return make_conninfo(
            f"postgresql://{self.user}@/{database}", host=str(self.home), port=self.port
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pgbouncer exited: {self.log()}")
            try:
                with psycopg.connect(self.socket_url("pgbouncer"), autocommit=True):
                    return
            except psycopg.OperationalError:
                time.sleep(0.1)
        raise RuntimeError(f"pgbouncer did not accept connections: {self.log()}")

    def show(self, what: str) -> list[dict[str, object]]:
        """``SHOW <what>`` on pgbouncer's admin console (POOLS, STATS, CLIENTS...)."""
        with psycopg.connect(self.socket_url("pgbouncer"), autocommit=True) as conn:
            cur = conn.execute(f"SHOW {what}", prepare=False)
            names = [column.name for column in cur.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def log(self) -> str:
        path = self.home / "pgbouncer.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.home, ignore_errors=True)
