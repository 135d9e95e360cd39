"""The bad-input catalogue (docs/guarantees-bad-input.md): each mistake is refused with an
error that names the fix, and nothing is half-written."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    EmptyModel,
    FailedRunError,
    Hatchet,
    RateLimit,
    TriggerWorkflowOptions,
    errors,
)
from hatchnb.enqueue import INSERT_CHUNK
from hatchnb.expressions import InvalidExpression
from hatchnb.features.cron import InvalidCron
from hatchnb.serialization import PYTHON_VERSION
from hatchnb.store import SCHEMA_VERSION
from tests.conftest import FAST_SETTINGS

pytestmark = pytest.mark.integration

CLOSED_PORT_DSN = "postgresql://postgres@127.0.0.1:1/nowhere"
TABLES = ("workflow_versions", "workflow_runs", "task_runs", "events", "crons", "filters")


class Order(BaseModel):
    id: int
    amount: float


def _noop(input: EmptyModel, ctx: Context) -> None:
    return None


def _counts(db: Any) -> dict[str, int]:
    return {
        table: db.execute(f"SELECT count(*) AS n FROM hatchnb.{table}").fetchone()["n"]
        for table in TABLES
    }


def _nothing_written(db: Any, **allowed: int) -> None:
    """Every catalogue table is empty except ``allowed`` (e.g. a registered version)."""
    assert _counts(db) == {table: allowed.get(table, 0) for table in TABLES}


def _task_row(db: Any) -> dict[str, Any]:
    row: dict[str, Any] = db.execute(
        "SELECT status, attempt, retry_count, error FROM hatchnb.task_runs"
    ).fetchone()
    return row


# ---- declarations ---------------------------------------------------------------------


def test_cyclic_dag_is_refused_before_anything_is_stored(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(name="cyclic")
    a = wf.task(name="a")(_noop)
    b = wf.task(name="b", parents=[a])(_noop)
    a.parents.append(b)  # the only way to build a cycle: parents must exist when declared
    with pytest.raises(errors.InvalidWorkflow, match="cycle: a -> b -> a; remove one of these"):
        wf.run_no_wait()
    _nothing_written(db)


def test_unknown_parent_is_refused_at_declaration(hatchet: Any, db: Any) -> None:
    other = hatchet.workflow(name="other")
    foreign = other.task(name="elsewhere")(_noop)
    wf = hatchet.workflow(name="child")
    with pytest.raises(
        errors.InvalidWorkflow, match="unknown parent 'elsewhere'; a parent must be declared"
    ):
        wf.task(name="x", parents=[foreign])(_noop)
    _nothing_written(db)


def test_duplicate_task_name_is_refused_at_declaration(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(name="dupes")
    wf.task(name="step")(_noop)
    with pytest.raises(errors.InvalidWorkflow, match=r"task names must be unique.*pass name="):
        wf.task(name="step")(_noop)
    _nothing_written(db)


def test_invalid_cron_expressions_are_refused(hatchet: Any, db: Any) -> None:
    with pytest.raises(InvalidCron, match="use five fields 'minute hour day-of-month"):
        hatchet.workflow(name="nightly", on_crons=["every night"])
    wf = hatchet.workflow(name="leap")
    wf.task()(_noop)
    with pytest.raises(InvalidCron, match=r"never fires.*asks for February 30"):
        wf.create_cron("feb-30", "0 0 30 2 *")
    with pytest.raises(InvalidCron, match="use an IANA name like 'Europe/Paris'"):
        wf.create_cron("mars", "0 3 * * *", timezone="Mars/Olympus")
    _nothing_written(db, workflow_versions=1)  # create_cron registers the code first


# ---- CEL expressions ------------------------------------------------------------------


def test_invalid_cel_in_concurrency_and_rate_limit_keys_is_refused_at_declaration() -> None:
    with pytest.raises(ValueError, match=r"(?s)invalid CEL expression 'input\.\('.*Fix its syntax"):
        ConcurrencyExpression(
            expression="input.(", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST
        )
    with pytest.raises(ValueError, match=r"invalid CEL expression 'input\.user \+'"):
        RateLimit(dynamic_key="input.user +", units=1, limit=10)


_HUGE_CEL_ATTEMPTS = """
import sys
from hatchnb import ConcurrencyExpression, ConcurrencyLimitStrategy, Hatchet, RateLimit
from hatchnb.expressions import InvalidExpression

huge = " + ".join(["input.n"] * 50_000)
hatchet = Hatchet(dsn=sys.argv[1])
wf = hatchet.workflow(name="on-signup", on_events=["user:signup"])
wf.task()(lambda input, ctx: None)
hatchet.register(wf)
attempts = {
    "filter": lambda: hatchet.filters.create(wf, huge, "tenant-1"),
    "concurrency": lambda: ConcurrencyExpression(
        expression=huge, max_runs=1, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST
    ),
    "rate limit key": lambda: RateLimit(dynamic_key=huge, units=1, limit=10),
}
for name, attempt in attempts.items():
    try:
        attempt()
    except (InvalidExpression, ValueError) as exc:
        print(name, "refused:", "over the 10,000-character limit" in str(exc))
"""


def test_a_50000_term_cel_expression_is_refused_not_a_crash(dsn: str, db: Any) -> None:
    """Run in a child process: before the fix the CEL library segfaulted the process."""
    done = subprocess.run(
        [sys.executable, "-c", _HUGE_CEL_ATTEMPTS, dsn], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, f"exit {done.returncode}: {done.stderr[-500:]}"
    assert done.stdout.splitlines() == [
        "filter refused: True",
        "concurrency refused: True",
        "rate limit key refused: True",
    ]
    _nothing_written(db, workflow_versions=1)


def test_cel_key_failing_on_an_input_refuses_the_trigger(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(
        name="per-tenant",
        concurrency=ConcurrencyExpression(
            expression="input.tenant",
            max_runs=1,
            limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN,
        ),
    )
    wf.task()(_noop)
    with pytest.raises(InvalidExpression, match=r"must work for every run.*has\(input\.tenant\)"):
        wf.run_no_wait({"user": "u1"})
    _nothing_written(db, workflow_versions=1)


def test_invalid_event_filter_is_refused_and_a_failing_one_names_itself(
    hatchet: Any, db: Any
) -> None:
    wf = hatchet.workflow(name="on-signup", on_events=["user:signup"])
    wf.task()(_noop)
    hatchet.register(wf)
    with pytest.raises(InvalidExpression, match="Fix its syntax"):
        hatchet.filters.create(wf, "input.plan ==", "tenant-1")
    assert _counts(db)["filters"] == 0

    bad = hatchet.filters.create(wf, "input.plan == 'pro'", "tenant-1")
    with pytest.raises(InvalidExpression) as refused:
        hatchet.event.push("user:signup", {"user": 1}, scope="tenant-1")
    message = str(refused.value)
    assert f"event filter {bad.id} of workflow 'on-signup'" in message
    assert "the event was not stored" in message
    assert f"hatchet.filters.delete('{bad.id}')" in message
    _nothing_written(db, workflow_versions=1, filters=1)


# ---- inputs ---------------------------------------------------------------------------


def test_input_failing_validation_is_refused_in_the_caller(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(name="orders", input_validator=Order)
    wf.task()(_noop)
    with pytest.raises(errors.InvalidInput, match=r"does not match Order.*fields validate"):
        wf.run_no_wait({"id": "not a number", "amount": 1})
    with pytest.raises(errors.InvalidInput, match="amount"):
        wf.run_many_no_wait(
            [wf.create_bulk_run_item({"id": 1, "amount": 2}), wf.create_bulk_run_item({"id": 2})]
        )
    _nothing_written(db, workflow_versions=1)  # the valid first item was not inserted either
    # a bulk trigger sent in several statements: the chunks before the bad item roll back
    items = [wf.create_bulk_run_item({"id": i, "amount": 1}) for i in range(2 * INSERT_CHUNK)]
    with pytest.raises(errors.InvalidInput, match="amount"):
        wf.run_many_no_wait([*items, wf.create_bulk_run_item({"id": -1})])
    _nothing_written(db, workflow_versions=1)


def test_input_that_is_not_json_is_refused(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(name="plain")
    wf.task()(_noop)
    with pytest.raises(errors.InvalidInput, match="not JSON-serializable: pass only JSON types"):
        wf.run_no_wait({"tags": {"a", "b"}})
    with pytest.raises(errors.InvalidInput, match="finite float"):
        wf.run_no_wait({"ratio": float("nan")})
    with pytest.raises(errors.InvalidInput, match=r"NUL character.*encode binary data"):
        wf.run_no_wait({"blob": "a\x00b"})
    with pytest.raises(errors.InvalidInput, match="additional_metadata is not JSON-serializable"):
        wf.run_no_wait({}, TriggerWorkflowOptions(additional_metadata={"at": object()}))
    _nothing_written(db, workflow_versions=1)


def test_input_over_the_size_limit_is_refused(
    dsn: str, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HATCHNB_MAX_PAYLOAD_BYTES", "1000")
    client = Hatchet(dsn=dsn)
    try:
        wf = client.workflow(name="big", on_events=["big"])
        wf.task()(_noop)
        with pytest.raises(errors.PayloadTooLarge, match=r"over the 1000-byte limit.*reference"):
            wf.run_no_wait({"rows": "x" * 2000})
        with pytest.raises(errors.PayloadTooLarge, match="HATCHNB_MAX_PAYLOAD_BYTES"):
            client.event.push("big", {"rows": "x" * 2000})
    finally:
        client.close()
    _nothing_written(db, workflow_versions=1)


def test_event_payload_failing_validation_fails_on_the_worker_without_retries(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    @hatchet.task(input_validator=Order, on_events=["order:new"], retries=3)
    def charge(input: Order, ctx: Context) -> float:
        return input.amount

    hatchet.register(charge)
    worker_process("--slots", "1")
    event = hatchet.event.push("order:new", {"id": "seven"})  # a push cannot know the model
    with pytest.raises(FailedRunError, match="send data that matches the task's input_validator"):
        hatchet.runs.get_run_ref(event.run_ids[0]).result(timeout=30)
    row = _task_row(db)
    assert (row["status"], row["attempt"], row["retry_count"]) == ("FAILED", 1, 0)


# ---- priorities and trigger targets (issue 19, finding 8) -------------------------------


@pytest.mark.parametrize("priority", [99, 0, -1, 4, True, 2.0, "3"])
def test_a_priority_outside_1_to_3_is_refused_everywhere(
    hatchet: Any, db: Any, priority: Any
) -> None:
    wf = hatchet.workflow(name="prioritised", on_events=["prio:go"])
    wf.task()(_noop)
    hatchet.register(wf)
    later = datetime.now(UTC) + timedelta(hours=1)
    attempts: dict[str, Callable[[], Any]] = {
        "cron.create": lambda: hatchet.cron.create(wf, "c", "0 3 * * *", priority=priority),
        "create_cron": lambda: wf.create_cron("c", "0 3 * * *", priority=priority),
        "scheduled.create": lambda: hatchet.scheduled.create(wf, later, priority=priority),
        "schedule": lambda: wf.schedule(later, priority=priority),
        "runs.create": lambda: hatchet.runs.create("prioritised", {}, priority=priority),
        "run_no_wait": lambda: wf.run_no_wait(priority=priority),
        "bulk item": lambda: wf.run_many_no_wait([wf.create_bulk_run_item(priority=priority)]),
        "bulk item built by hand": lambda: wf.run_many_no_wait(
            [
                wf.create_bulk_run_item(
                    options=TriggerWorkflowOptions.model_construct(priority=priority)
                )
            ]
        ),
        "event.push": lambda: hatchet.event.push("prio:go", {}, priority=priority),
    }
    for where, attempt in attempts.items():
        with pytest.raises(errors.HatchnbError, match=r"use Priority\.LOW \(1\), MEDIUM"):
            attempt()
            pytest.fail(f"{where} accepted priority={priority!r}")
    _nothing_written(db, workflow_versions=1)


def test_a_cron_or_schedule_for_an_unregistered_workflow_is_refused(hatchet: Any, db: Any) -> None:
    with pytest.raises(errors.WorkflowNotFound, match="'nowhere' is not registered; register"):
        hatchet.cron.create("nowhere", "nightly", "0 3 * * *")
    with pytest.raises(errors.WorkflowNotFound, match="before creating a scheduled run for it"):
        hatchet.scheduled.create("nowhere", datetime.now(UTC) + timedelta(hours=1))
    _nothing_written(db)


# ---- API calls that leaked driver errors (issue 19) -------------------------------------


def test_api_calls_that_leaked_psycopg_errors_name_what_to_fix(hatchet: Any, db: Any) -> None:
    wf = hatchet.workflow(
        name="keyed",
        on_events=["keyed:go"],
        concurrency=ConcurrencyExpression(
            expression="input.k", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.CANCEL_NEWEST
        ),
    )
    wf.task()(_noop)
    hatchet.register(wf)
    refused: dict[str, tuple[Callable[[], Any], type[Exception], str]] = {
        "event.get": (
            lambda: hatchet.event.get("nope"),
            errors.InvalidId,
            r"'nope' is not an event id: ids are UUIDs, as in Event\.event_id",
        ),
        "runs.count": (
            lambda: hatchet.runs.count(cap=-1),
            errors.InvalidArgument,
            r"cap=-1: pass a whole number from 0 to",
        ),
        "filters.delete": (
            lambda: hatchet.filters.delete("x"),
            errors.InvalidId,
            r"'x' is not a filter id",
        ),
        "rate_limits.put": (
            lambda: hatchet.rate_limits.put("a\x00b", 5),
            errors.InvalidInput,
            r"rate limit key='a\\x00b' contains a NUL character",
        ),
        "event payload": (
            lambda: hatchet.event.push("keyed:go", {"name": "\ud800"}),
            errors.InvalidInput,
            r"the event payload contains a lone surrogate .* decode the text with errors=",
        ),
        "run input": (
            lambda: wf.run_no_wait({"k": "\udc00"}),
            errors.InvalidInput,
            r"the input contains a lone surrogate",
        ),
        "event key": (
            lambda: hatchet.event.push("keyed:\ud800", {}),
            errors.InvalidInput,
            r"event key contains the lone surrogate '\\ud800' at position 6",
        ),
        "1 MB workflow name": (
            lambda: hatchet.register(hatchet.workflow(name="n" * 1_000_000)),
            errors.InvalidWorkflow,
            r"is 1,000,000 bytes long, over the 500-byte limit for names and keys",
        ),
        "3 MB concurrency key": (
            lambda: wf.run_no_wait({"k": "k" * 3_000_000}),
            InvalidExpression,
            r"the key of 'input\.k' is 3,000,000 bytes on this input, over the 500-byte limit",
        ),
        "3 MB metadata": (
            lambda: wf.run_no_wait({"k": "a"}, additional_metadata={"blob": "m" * 3_000_000}),
            errors.InvalidInput,
            r"additional_metadata is 3,000,012 bytes as JSON, over the 65,536-byte limit",
        ),
    }
    for call, (attempt, error, message) in refused.items():
        with pytest.raises(error, match=message):
            attempt()
            pytest.fail(f"{call} was accepted")
    _nothing_written(db, workflow_versions=1)


def test_a_value_postgres_refuses_is_a_hatchnb_error_not_a_lost_connection(hatchet: Any) -> None:
    """The net under the checks: what reaches PostgreSQL and is refused there."""
    store = hatchet._store
    with pytest.raises(errors.ValueRefused, match="invalid input syntax for type uuid"):
        store.fetch_one("get_cron", id="not-a-uuid")
    with pytest.raises(errors.ValueRefused, match=r"too large for PostgreSQL .*index row"):
        store.execute("put_rate_limit", key="k" * 1_000_000, limit=1, duration="SECOND")
    with pytest.raises(errors.ValueRefused, match="remove lone surrogates"):
        store.fetch_one("get_rate_limit", key="\ud800")


def test_waiting_for_a_run_that_does_not_exist_says_so(hatchet: Any) -> None:
    missing = "00000000-0000-7000-8000-000000000000"
    with pytest.raises(errors.RunNotFound, match=f"no workflow run has the id {missing}"):
        hatchet.runs.get_result(missing)


# ---- outputs (on a real worker process) -------------------------------------------------


def test_unserializable_output_fails_the_task_saying_what_to_return(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    @hatchet.task(retries=2)
    def opens_socket(input: EmptyModel, ctx: Context) -> Any:
        import socket as sockets

        return sockets.socket()

    worker_process("--slots", "1")
    with pytest.raises(FailedRunError) as failed:
        opens_socket.run()
    message = str(failed.value)
    assert "output of type socket is neither JSON nor picklable" in message
    assert "return plain data instead (a dict, list, str, number" in message
    row = _task_row(db)
    assert (row["status"], row["attempt"]) == ("FAILED", 1)  # not retried: it cannot change


def test_an_exception_whose_str_raises_fails_the_task_and_uses_its_retries(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("str() is broken")

    @hatchet.task(retries=1, execution_timeout="60s")
    def raises_unprintable(input: EmptyModel, ctx: Context) -> None:
        raise Unprintable()

    @hatchet.task(retries=1, execution_timeout="60s")
    def raises_nul(input: EmptyModel, ctx: Context) -> None:
        raise ValueError("bad byte \x00 and \ud800 in the message")

    worker_process("--slots", "2")
    started = time.monotonic()
    with pytest.raises(FailedRunError) as failed:
        raises_unprintable.run()
    error = failed.value.exceptions[0]
    assert error.exc_type == "Unprintable"
    assert error.exc.startswith("<str() of this Unprintable raised RuntimeError; repr:")
    assert _task_rows(db, "raises_unprintable") == [
        {"status": "FAILED", "attempt": 2, "retry_count": 1}
    ]
    with pytest.raises(FailedRunError, match=r"bad byte \\x00 and \\ud800 in the message"):
        raises_nul.run()
    assert _task_rows(db, "raises_nul") == [{"status": "FAILED", "attempt": 2, "retry_count": 1}]
    assert time.monotonic() - started < 30  # failed at once, not at the execution timeout


def test_log_lines_with_nul_characters_or_lone_surrogates_are_kept_escaped(
    hatchet: Any, worker_process: Any
) -> None:
    @hatchet.task()
    def chatty(input: EmptyModel, ctx: Context) -> None:
        ctx.log("before")
        ctx.log("a NUL \x00 and a lone \ud800 here")
        ctx.log("after")

    worker_process("--slots", "1")
    ref = chatty.run_no_wait()
    ref.result(timeout=30)
    lines = [line["message"] for line in hatchet.runs.logs(ref.workflow_run_id)]
    assert lines == ["before", "a NUL \\x00 and a lone \\ud800 here", "after"]


def test_output_with_nul_characters_is_kept_not_lost(hatchet: Any, worker_process: Any) -> None:
    @hatchet.task()
    def binary(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"raw": "a\x00b"}

    worker_process("--slots", "1")
    assert binary.run(options=None) == {"raw": "a\x00b"}  # jsonb cannot hold it: pickled


def test_output_over_the_size_limit_fails_the_task(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    @hatchet.task(retries=2)
    def too_big(input: EmptyModel, ctx: Context) -> str:
        return "x" * 5000

    worker_process("--slots", "1", HATCHNB_MAX_PAYLOAD_BYTES="1000")
    with pytest.raises(FailedRunError, match=r"task output is \d+ bytes, over the 1000-byte"):
        too_big.run()
    assert _task_row(db)["attempt"] == 1


# ---- code -------------------------------------------------------------------------------


def test_task_closing_over_a_socket_is_refused_naming_it(hatchet: Any, db: Any) -> None:
    connection = socket.socket()
    try:

        def send(payload: bytes) -> int:
            return connection.send(payload)

        @hatchet.task()
        def notify(input: EmptyModel, ctx: Context) -> int:
            return send(b"hi")

        with pytest.raises(errors.SerializationError) as refused:
            hatchet.register(notify)
    finally:
        connection.close()
    message = str(refused.value)
    assert "task 'notify' refers to send -> connection, a socket.socket" in message
    assert "create those inside the task" in message
    _nothing_written(db)


def test_missing_package_on_the_worker_fails_once_naming_it(
    hatchet: Any, db: Any, worker_process: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    libdir = tmp_path / "client_only"
    libdir.mkdir()
    (libdir / "notonworker.py").write_text("def rows():\n    return [1, 2]\n")
    monkeypatch.syspath_prepend(str(libdir))
    import notonworker  # type: ignore[import-not-found]

    @hatchet.task(retries=3)
    def uses_lib(input: EmptyModel, ctx: Context) -> int:
        return len(notonworker.rows())

    worker_process("--slots", "1")
    with pytest.raises(FailedRunError) as failed:
        uses_lib.run()
    message = str(failed.value)
    assert "needs the module 'notonworker'" in message
    assert "install it on the worker (pip install notonworker)" in message
    row = _task_row(db)
    assert (row["status"], row["attempt"], row["retry_count"]) == ("FAILED", 1, 0)


def _task_rows(db: Any, task_name: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = db.execute(
        "SELECT status, attempt, retry_count FROM hatchnb.task_runs WHERE task_name = %s",
        (task_name,),
    ).fetchall()
    return rows


def test_module_missing_at_run_time_fails_once_naming_it(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    @hatchet.task(retries=3)
    def lazy_import(input: EmptyModel, ctx: Context) -> None:
        import hatchnb_absent_pkg.reports  # type: ignore[import-not-found]  # noqa: F401

    @hatchet.task(retries=3)
    def lazy_name(input: EmptyModel, ctx: Context) -> None:
        from pydantic import no_such_name  # noqa: F401

    worker_process("--slots", "1")
    with pytest.raises(FailedRunError) as failed:
        lazy_import.run()
    error = failed.value.exceptions[0]
    assert error.exc_type == "ModuleNotFoundError"
    assert "task 'lazy_import' needs the module 'hatchnb_absent_pkg'" in error.exc
    assert "install it on the worker (pip install hatchnb_absent_pkg)" in error.exc
    assert "not retried" in error.exc
    assert "in lazy_import\nModuleNotFoundError" in error.trace  # where the task imports it
    assert _task_rows(db, "lazy_import") == [{"status": "FAILED", "attempt": 1, "retry_count": 0}]

    with pytest.raises(FailedRunError) as failed:
        lazy_name.run()
    error = failed.value.exceptions[0]
    assert error.exc_type == "ImportError"
    assert "cannot import name 'no_such_name' from 'pydantic'" in error.exc
    assert "install the version the task needs on the worker (pip install -U pydantic)" in error.exc
    assert _task_rows(db, "lazy_name") == [{"status": "FAILED", "attempt": 1, "retry_count": 0}]


def test_code_for_another_python_fails_at_its_schedule_timeout_naming_both(
    hatchet: Any, db: Any, worker_process: Any
) -> None:
    @hatchet.task(schedule_timeout="1s")
    def elsewhere(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(elsewhere)
    db.execute("UPDATE hatchnb.workflow_versions SET python_version = '3.99'")
    worker_process("--slots", "1")
    with pytest.raises(FailedRunError) as failed:
        elsewhere.run()
    message = str(failed.value)
    assert "its code was registered from Python 3.99" in message
    assert f"workers run Python {PYTHON_VERSION}" in message
    assert "start a worker on Python 3.99" in message


# ---- connecting -----------------------------------------------------------------------


def _bump_schema(db: Any) -> None:
    db.execute("INSERT INTO hatchnb.schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))


def _run_cli(*args: str, dsn: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hatchnb", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **FAST_SETTINGS, "HATCHNB_DATABASE_URL": dsn},
    )


def test_schema_newer_than_the_library_is_refused_by_client_and_worker(dsn: str, db: Any) -> None:
    _bump_schema(db)
    expected = f"at version {SCHEMA_VERSION + 1} but this hatchnb knows only up to"
    with pytest.raises(errors.SchemaTooNew, match=f"{expected}.*pip install -U hatchnb"):
        Hatchet(dsn=dsn)
    done = _run_cli("worker", "--slots", "1", dsn=dsn)
    assert done.returncode == 1
    assert f"hatchnb worker: The database schema is {expected}" in done.stderr
    assert "Traceback" not in done.stderr


def test_unreachable_database_at_start_is_a_clear_error() -> None:
    started = time.monotonic()
    with pytest.raises(errors.DatabaseUnavailable, match="check HATCHNB_DATABASE_URL") as refused:
        Hatchet(dsn=CLOSED_PORT_DSN)
    assert "port 1 failed" in str(refused.value)
    assert time.monotonic() - started < 10
    with pytest.raises(errors.ConfigurationError, match="set HATCHNB_DATABASE_URL"):
        Hatchet(dsn="host=127.0.0.1 port")


def test_worker_retries_an_unreachable_database_then_gives_up_clearly() -> None:
    started = time.monotonic()
    done = _run_cli("worker", "--wait-for-database", "2", dsn=CLOSED_PORT_DSN)
    assert done.returncode == 1
    assert done.stderr.count("retrying in") >= 2  # backoff, each attempt visible
    assert "hatchnb worker: PostgreSQL cannot be reached: check HATCHNB_DATABASE_URL" in (
        done.stderr
    )
    assert "gave up after 2s (--wait-for-database)" in done.stderr
    assert "Traceback" not in done.stderr
    assert time.monotonic() - started < 20
