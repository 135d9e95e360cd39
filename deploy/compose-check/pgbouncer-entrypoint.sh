#!/bin/sh
# Stand-in for edoburu/pgbouncer's entrypoint: DATABASE_URL, POOL_MODE, AUTH_TYPE,
# DEFAULT_POOL_SIZE, MAX_CLIENT_CONN and LISTEN_PORT become pgbouncer.ini and a userlist.
# Only for checking compose.yaml where Docker Hub cannot be reached.
set -eu
eval "$(python3 - <<'PY'
import os, shlex, urllib.parse
url = urllib.parse.urlsplit(os.environ["DATABASE_URL"])
for key, value in {
    "user": url.username, "password": urllib.parse.unquote(url.password or ""),
    "host": url.hostname, "port": str(url.port or 5432), "db": url.path.lstrip("/"),
}.items():
    print(f"db_{key}={shlex.quote(value or '')}")
PY
)"
mkdir -p /etc/pgbouncer /run/pgbouncer
cat >/etc/pgbouncer/pgbouncer.ini <<INI
[databases]
$db_db = host=$db_host port=$db_port dbname=$db_db
[pgbouncer]
listen_addr = 0.0.0.0
listen_port = ${LISTEN_PORT:-6432}
unix_socket_dir =
auth_type = ${AUTH_TYPE:-scram-sha-256}
auth_file = /etc/pgbouncer/userlist.txt
pool_mode = ${POOL_MODE:-session}
default_pool_size = ${DEFAULT_POOL_SIZE:-20}
max_client_conn = ${MAX_CLIENT_CONN:-100}
ignore_startup_parameters = extra_float_digits
INI
printf '"%s" "%s"\n' "$db_user" "$db_password" >/etc/pgbouncer/userlist.txt
chown -R postgres /etc/pgbouncer /run/pgbouncer
exec pgbouncer -u postgres /etc/pgbouncer/pgbouncer.ini
