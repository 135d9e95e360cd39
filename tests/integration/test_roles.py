"""docs/security.md's roles: `hatchnb roles --print` applied by the owner to a schema it
migrated; workers cannot plant code, the dashboard only reads."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from hatchnb import Context, EmptyModel, Hatchet, errors
from hatchnb.store import migrate
from tests.conftest import _admin, _dsn_for

pytestmark = [pytest.mark.integration, pytest.mark.workers]

ROLES = ("owner", "worker", "client", "dashboard")


def _as(role: str, database: str) -> str:
    params = psycopg.conninfo.conninfo_to_dict(_dsn_for(database))
    return psycopg.conninfo.make_conninfo("", **{**params, "user": role})


@pytest.fixture
def locked_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A database migrated by its owner role with the GRANTs applied; ``{role: dsn}``."""
    suffix = uuid.uuid4().hex[:10]
    names = {role: f"hnb_{role}_{suffix}" for role in ROLES}
    database = f"roles_{suffix}"
    for name in names.values():
        _admin(f"CREATE ROLE {name} LOGIN")
    _admin(f"CREATE DATABASE {database} OWNER {names['owner']}")
    try:
        dsns = {role: _as(name, database) for role, name in names.items()}
        migrate(dsns["owner"])
        grants = subprocess.run(
            [sys.executable, "-m", "hatchnb", "roles", "--print"]
            + [f"--{role}={name}" for role, name in names.items()],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        with psycopg.connect(dsns["owner"], autocommit=True) as conn:
            conn.execute(grants)
        monkeypatch.setenv("HATCHNB_DATABASE_URL", dsns["client"])
        yield dsns
    finally:
        _admin(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)")
        for name in names.values():
            _admin(f"DROP ROLE IF EXISTS {name}")


def _refused(dsn: str, statement: str) -> None:
    with (
        psycopg.connect(dsn, autocommit=True) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege),
    ):
        conn.execute(statement)


@contextlib.contextmanager
def _worker_role_process(locked_down: dict[str, str], cwd: Any) -> Iterator[None]:
    """A `hatchnb worker` connected as the worker role; it must never meet a refusal."""
    worker = subprocess.Popen(
        [sys.executable, "-m", "hatchnb", "worker", "--slots", "4"],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "HATCHNB_DATABASE_URL": locked_down["worker"]},
    )
    try:
        yield
    finally:
        worker.kill()
        errors = worker.communicate(timeout=10)[1]
    assert "permission denied" not in errors


def test_client_triggers_a_run_that_a_worker_role_process_runs(
    locked_down: dict[str, str], tmp_path: Any
) -> None:
    client = Hatchet(dsn=locked_down["client"])
    try:

        @client.task()
        def hello(input: EmptyModel, ctx: Context) -> dict[str, str]:
            ctx.log("running as the worker role")
            return {"greeting": "hi"}

        client.register(hello)
        with _worker_role_process(locked_down, tmp_path):
            assert hello.run() == {"greeting": "hi"}
    finally:
        client.close()


def test_a_worker_role_process_starts_child_runs_of_registered_workflows(
    locked_down: dict[str, str], tmp_path: Any
) -> None:
    client = Hatchet(dsn=locked_down["client"])
    try:

        @client.task()
        def leaf(input: EmptyModel, ctx: Context) -> int:
            return int((input.model_extra or {})["n"]) * 10

        @client.task()
        def fan_out(input: EmptyModel, ctx: Context) -> list[int]:
            return [leaf.run({"n": n}) for n in (1, 2)]

        client.register(leaf)
        client.register(fan_out)
        with _worker_role_process(locked_down, tmp_path):
            assert fan_out.run() == [10, 20]
        with psycopg.connect(locked_down["client"]) as conn:
            versions = conn.execute(
                "SELECT workflow_name, count(*) FROM hatchnb.workflow_versions GROUP BY 1"
            ).fetchall()
        assert dict(versions) == {"leaf": 1, "fan_out": 1}  # the worker stored no copy
    finally:
        client.close()


def test_dashboard_role_lists_runs_but_cannot_write(locked_down: dict[str, str]) -> None:
    client = Hatchet(dsn=locked_down["client"])
    try:

        @client.task()
        def listed(input: EmptyModel, ctx: Context) -> None:
            return None

        ref = listed.run_no_wait()
        client.alerts.set_slack("https://hooks.slack.example/secret")
    finally:
        client.close()
    dashboard = Hatchet(dsn=locked_down["dashboard"])
    try:
        assert [r.workflow_run_id for r in dashboard.runs.list()] == [ref.workflow_run_id]
        assert dashboard.runs.count() == 1
    finally:
        dashboard.close()
    dsn = locked_down["dashboard"]
    _refused(
        dsn,
        "INSERT INTO hatchnb.workflow_versions (workflow_name, content_hash, python_version, "
        "spec, code) VALUES ('evil', 'x', '3.11', '{}', '\\x00')",
    )
    _refused(dsn, "UPDATE hatchnb.workflow_versions SET code = '\\x00'")
    _refused(dsn, "UPDATE hatchnb.task_runs SET status = 'CANCELLED'")
    _refused(dsn, "DELETE FROM hatchnb.workflow_runs")
    _refused(dsn, "SELECT slack_webhook_url FROM hatchnb.alert_settings")
    with psycopg.connect(dsn, row_factory=dict_row) as conn:
        row = conn.execute("SELECT on_failure FROM hatchnb.alert_settings").fetchone()
        assert row == {"on_failure": True}


def test_worker_role_cannot_plant_code(locked_down: dict[str, str]) -> None:
    client = Hatchet(dsn=locked_down["client"])
    try:

        @client.task()
        def honest(input: EmptyModel, ctx: Context) -> None:
            return None

        client.register(honest)
    finally:
        client.close()
    dsn = locked_down["worker"]
    _refused(
        dsn,
        "INSERT INTO hatchnb.workflow_versions (workflow_name, content_hash, python_version, "
        "spec, code) VALUES ('evil', 'x', '3.11', '{}', '\\x00')",
    )
    _refused(dsn, "UPDATE hatchnb.workflow_versions SET code = '\\x00'")
    _refused(dsn, "UPDATE hatchnb.workflow_triggers SET version_id = version_id")
    _refused(dsn, "INSERT INTO hatchnb.schema_version (version) VALUES (999)")
    with psycopg.connect(dsn, row_factory=dict_row) as conn:  # but it can read the code
        assert conn.execute("SELECT count(*) AS n FROM hatchnb.workflow_versions").fetchone() == {
            "n": 1
        }


def test_workers_make_no_dashboard_users_and_nobody_rewrites_the_audit_log(
    locked_down: dict[str, str],
) -> None:
    client = Hatchet(dsn=locked_down["client"])
    try:
        client.users.add("ops", "operator", "long enough pw")  # the client role manages users
        client.audit.record("ops", "operator", "cancel", "some-run")
    finally:
        client.close()
    worker = locked_down["worker"]
    _refused(
        worker,
        "INSERT INTO hatchnb.dashboard_users (name, role, password_hash) "
        "VALUES ('evil', 'admin', 'x')",
    )
    _refused(worker, "UPDATE hatchnb.dashboard_users SET role = 'admin'")
    _refused(worker, "INSERT INTO hatchnb.audit_log (actor, role, action) VALUES ('a', 'b', 'c')")
    for role in ("client", "worker", "dashboard"):
        _refused(locked_down[role], "DELETE FROM hatchnb.audit_log")
        _refused(locked_down[role], "UPDATE hatchnb.audit_log SET actor = 'someone else'")


def test_roles_without_schema_rights_get_a_clear_migration_error(
    locked_down: dict[str, str],
) -> None:
    with psycopg.connect(locked_down["owner"], autocommit=True) as conn:
        conn.execute(
            "DELETE FROM hatchnb.schema_version WHERE version = (SELECT max(version) "
            "FROM hatchnb.schema_version)"
        )
    with pytest.raises(errors.ConfigurationError, match=r"run `hatchnb migrate` as the owner"):
        Hatchet(dsn=locked_down["client"])


def test_webhook_secrets_are_out_of_reach_of_workers_and_the_dashboard(
    locked_down: dict[str, str],
) -> None:
    from hatchnb.webhook_types import V1WebhookAPIKeyAuth, V1WebhookSourceName

    client = Hatchet(dsn=locked_down["client"])
    try:  # the client role manages webhooks and receives their requests
        auth = V1WebhookAPIKeyAuth(headerName="X-Key", apiKey="k-123")
        client.webhooks.create(V1WebhookSourceName.GENERIC, "hook", "'k'", auth)
        receipt = client.webhooks.receive(
            "hook", method="POST", headers={"X-Key": "k-123"}, body=b"{}"
        )
        assert receipt.key == "k"
    finally:
        client.close()
    _refused(locked_down["worker"], "SELECT name FROM hatchnb.webhooks")
    _refused(locked_down["worker"], "UPDATE hatchnb.webhooks SET secret = 'x'")
    _refused(locked_down["dashboard"], "SELECT secret FROM hatchnb.webhooks")
    _refused(locked_down["dashboard"], "SELECT auth_settings FROM hatchnb.webhooks")
    with psycopg.connect(locked_down["dashboard"], row_factory=dict_row) as conn:
        row = conn.execute("SELECT name, auth_type FROM hatchnb.webhooks").fetchone()
        assert row == {"name": "hook", "auth_type": "API_KEY"}
