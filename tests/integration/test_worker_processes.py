"""Real worker subprocesses: code shipping, SIGKILL recovery, SIGTERM, leader failover."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, FailedRunError
from tests.conftest import wait_until
from tests.integration.shipped import flows

pytestmark = [pytest.mark.integration, pytest.mark.workers]


def _leader_pid(db: Any) -> int | None:
    row = db.execute(
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        "AND a.application_name LIKE 'hatchnb-engine-%' "
        "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    ).fetchone()
    return int(row["application_name"].rsplit("-", 1)[1]) if row else None


def test_worker_without_code_runs_pickled_workflow(hatchet: Any, worker_process: Any) -> None:
    tasks = flows.declare(hatchet)
    proc = worker_process("--slots", "4")
    result = tasks["where"].run()
    assert result["pid"] == proc.pid


_MODULE_WITH_A_CLIENT = """
import os, threading
from hatchnb import Context, EmptyModel, Hatchet


class Client:  # stands for a client made at import (boto3, a pool): it holds a lock
    def __init__(self):
        self.made_in = os.getpid()
        self._lock = threading.Lock()

    def call(self):
        with self._lock:
            return self.made_in


CLIENT = Client()


def declare(hatchet: Hatchet):
    @hatchet.task(name="uses-module-client", execution_timeout="60s")
    def uses_client(input: EmptyModel, ctx: Context) -> dict:
        return {"client_made_in": CLIENT.call(), "pid": os.getpid()}

    return uses_client
"""


def test_a_module_level_client_is_the_workers_own(
    hatchet: Any, worker_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hatchet code keeps clients at module level. One that cannot be pickled ships as a
    reference to the module: a worker that can import the module uses its own client; one
    that cannot says which module it needs."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "client_tasks.py").write_text(_MODULE_WITH_A_CLIENT)
    monkeypatch.syspath_prepend(str(code))
    import client_tasks  # type: ignore[import-not-found]

    task = client_tasks.declare(hatchet)
    proc = worker_process("--slots", "2", PYTHONPATH=str(code))
    assert task.run() == {"client_made_in": proc.pid, "pid": proc.pid}
    proc.stop()
    worker_process("--slots", "2")
    with pytest.raises(FailedRunError, match="needs the module 'client_tasks'"):
        task.run()


def test_a_script_run_as_main_ships_its_client_by_its_module_name(
    dsn: str, worker_process: Any, tmp_path: Path
) -> None:
    """``python pkg/jobs.py``: the script is ``__main__``, but its file is ``pkg.jobs`` on
    the path, which is what a worker imports for the client."""
    code = tmp_path / "code"
    (code / "pkg").mkdir(parents=True)
    (code / "pkg" / "__init__.py").write_text("")
    script = _MODULE_WITH_A_CLIENT + textwrap.dedent("""
        if __name__ == "__main__":
            print("RESULT", declare(Hatchet()).run())
    """)
    (code / "pkg" / "jobs.py").write_text(script)
    proc = worker_process("--slots", "2", PYTHONPATH=str(code))
    done = subprocess.run(
        [sys.executable, "pkg/jobs.py"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=code,
        env={**os.environ, "PYTHONPATH": str(code)},
    )
    assert done.returncode == 0, done.stderr + proc.output()
    assert f"RESULT {dict(pid=proc.pid, client_made_in=proc.pid)}" in done.stdout


def test_function_defined_in_main_runs_on_a_separate_worker(
    dsn: str, worker_process: Any, tmp_path: Path
) -> None:
    script = tmp_path / "notebook_like.py"
    script.write_text(
        textwrap.dedent("""
        import os
        from hatchnb import Hatchet, EmptyModel, Context

        hatchet = Hatchet()
        SECRET = 41

        @hatchet.task()
        def answer(input: EmptyModel, ctx: Context) -> dict:
            return {"answer": SECRET + 1, "pid": os.getpid()}

        out = answer.run()
        assert out["pid"] != os.getpid(), out
        print("RESULT", out["answer"])
    """)
    )
    proc = worker_process("--slots", "2")
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={**os.environ},
    )
    assert done.returncode == 0, done.stderr + proc.output()
    assert "RESULT 42" in done.stdout


def test_sigkilled_worker_task_is_requeued_and_finishes_elsewhere(
    hatchet: Any, worker_process: Any, tmp_path: Path, db: Any
) -> None:
    tasks = flows.declare(hatchet)
    marks = tmp_path / "marks.txt"
    first = worker_process("--slots", "1")
    ref = tasks["slow"].run_no_wait({"marks": str(marks), "seconds": 1.5})
    wait_until(
        lambda: marks.exists() and f"start {first.pid}" in marks.read_text(),
        message="the first worker to start the task",
    )
    os.kill(first.pid, signal.SIGKILL)
    second = worker_process("--slots", "1")
    result = ref.result(timeout=30)
    assert result == {"pid": second.pid}
    task = hatchet.runs.get(ref.workflow_run_id).tasks[0]
    assert task.attempt == 2 and task.retry_count == 0
    dead = db.execute("SELECT status FROM hatchnb.workers WHERE pid = %s", (first.pid,))
    assert dead.fetchone()["status"] == "DEAD"


def test_sigterm_finishes_running_task_before_exit(
    hatchet: Any, worker_process: Any, tmp_path: Path, db: Any
) -> None:
    tasks = flows.declare(hatchet)
    marks = tmp_path / "marks.txt"
    # no grace set: the worker drains as Hatchet's do, however long the task takes
    proc = worker_process("--slots", "1", HATCHNB_SHUTDOWN_GRACE="")
    ref = tasks["slow"].run_no_wait({"marks": str(marks), "seconds": 5})
    wait_until(lambda: marks.exists(), message="the task to start")
    proc.proc.send_signal(signal.SIGTERM)

    def status() -> str:
        row = db.execute("SELECT status FROM hatchnb.workers WHERE pid = %s", (proc.pid,))
        return str(row.fetchone()["status"])

    wait_until(lambda: status() == "PAUSED", message="the draining worker to show PAUSED")
    assert proc.proc.wait(20) == 0
    assert ref.result(timeout=5) == {"pid": proc.pid}
    assert status() == "STOPPED"


def test_sigterm_hands_back_tasks_that_outlive_the_grace_period(
    hatchet: Any, worker_process: Any, tmp_path: Path
) -> None:
    tasks = flows.declare(hatchet)
    marks = tmp_path / "marks.txt"
    proc = worker_process("--slots", "1", HATCHNB_SHUTDOWN_GRACE="0.5")
    ref = tasks["slow"].run_no_wait({"marks": str(marks), "seconds": 3})
    wait_until(lambda: marks.exists(), message="the task to start")
    proc.proc.send_signal(signal.SIGTERM)
    assert proc.proc.wait(20) == 0
    second = worker_process("--slots", "1")
    assert ref.result(timeout=30) == {"pid": second.pid}


def test_killing_the_leader_hands_engine_duties_over(worker_process: Any, db: Any) -> None:
    first = worker_process("--slots", "1")
    leader = wait_until(lambda: _leader_pid(db), message="a leader")
    assert leader == first.pid
    second = worker_process("--slots", "1")
    wait_until(
        lambda: db.execute("SELECT count(*) AS n FROM hatchnb.workers").fetchone()["n"] == 2,
        message="the second worker to register",
    )
    os.kill(first.pid, signal.SIGKILL)
    assert wait_until(
        lambda: _leader_pid(db) == second.pid, timeout=10, message="the second worker to take over"
    )


def test_python_version_mismatch_fails_the_task_clearly(
    hatchet: Any, worker_process: Any, db: Any
) -> None:
    tasks = flows.declare(hatchet)
    hatchet.register(tasks["where"])
    db.execute("UPDATE hatchnb.workflow_versions SET python_version = '3.99'")
    worker_process("--slots", "1")
    ref = tasks["where"].run_no_wait()
    time.sleep(1)  # the worker claims nothing it cannot load ...
    row = db.execute("SELECT status, attempt FROM hatchnb.task_runs").fetchone()
    assert (row["status"], row["attempt"]) == ("QUEUED", 0)
    # ... and the schedule timeout says why
    db.execute("UPDATE hatchnb.task_runs SET schedule_timeout = '1 second'")
    with pytest.raises(FailedRunError, match=r"registered from Python 3\.99.*workers run Python"):
        ref.result()


def test_missing_package_on_worker_is_named(
    hatchet: Any, worker_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libdir = tmp_path / "client_only_libs"
    libdir.mkdir()
    (libdir / "clientonlylib.py").write_text("def value():\n    return 7\n")
    monkeypatch.syspath_prepend(str(libdir))
    import clientonlylib  # type: ignore[import-not-found]

    @hatchet.task()
    def needs_lib(input: EmptyModel, ctx: Context) -> int:
        return int(clientonlylib.value())

    worker_process("--slots", "1")
    with pytest.raises(FailedRunError, match=r"needs the module 'clientonlylib'.*pip install"):
        needs_lib.run()


def test_signing_key_refuses_unsigned_and_tampered_code(
    dsn: str, worker_process: Any, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hatchnb import Hatchet

    worker_process("--slots", "2", HATCHNB_SIGNING_KEY="s3cret")
    unsigned = Hatchet(dsn=dsn)
    tasks = flows.declare(unsigned)
    with pytest.raises(FailedRunError, match="is not signed"):
        tasks["where"].run()
    unsigned.close()

    monkeypatch.setenv("HATCHNB_SIGNING_KEY", "s3cret")
    signed = Hatchet(dsn=dsn)
    tasks = flows.declare(signed)
    assert "pid" in tasks["where"].run()
    signed.register(tasks["slow"])  # registered and signed, never loaded by the worker
    db.execute(
        "UPDATE hatchnb.workflow_versions SET code = code || '\\x00'::bytea "
        "WHERE workflow_name = 'slow'"
    )
    with pytest.raises(FailedRunError, match="signature that does not match"):
        tasks["slow"].run({"marks": "/dev/null", "seconds": 0})
    signed.close()
