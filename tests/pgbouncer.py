"""A real PgBouncer (Debian's /usr/sbin/pgbouncer) in transaction mode in front of the test
PostgreSQL: every database name is passed through, so each test's fresh database is
reachable through it."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARY = "/usr/sbin/pgbouncer"


def server_of(dsn: str) -> tuple[str, int]:
    """The host and port a connection string names (libpq's defaults otherwise)."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(dsn)
    return str(params.get("host") or "127.0.0.1"), int(str(params.get("port") or 5432))


def through(dsn: str, port: int) -> str:
    """``dsn`` with PgBouncer's address instead of the server's."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = {key: str(value) for key, value in conninfo_to_dict(dsn).items()}
    return make_conninfo(**{**params, "host": "127.0.0.1", "port": str(port)})


def available() -> bool:
    return os.path.exists(BINARY)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(server_host: str, server_port: int) -> Iterator[int]:
    """Start PgBouncer (transaction pooling, trust auth); yields its port."""
    port = _free_port()
    home = Path(tempfile.mkdtemp(prefix="hatchnb-pgbouncer-"))
    (home / "users.txt").write_text('"postgres" ""\n')
    (home / "pgbouncer.ini").write_text(
        f"""[databases]
* = host={server_host} port={server_port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {home}/users.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 40
ignore_startup_parameters = extra_float_digits
server_reset_query =
logfile = {home}/pgbouncer.log
pidfile = {home}/pgbouncer.pid
"""
    )
    command = [BINARY, str(home / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root
        owner = pwd.getpwnam("postgres")
        for path in (home, *home.iterdir()):
            os.chown(path, owner.pw_uid, owner.pw_gid)
        command[1:1] = ["-u", "postgres"]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if proc.poll() is not None:
                    log = home / "pgbouncer.log"
                    raise RuntimeError(f"pgbouncer exited: {log.read_text()[-2000:]}") from None
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(home, ignore_errors=True)
