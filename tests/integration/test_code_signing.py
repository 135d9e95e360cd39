"""Signed code on real worker processes (issue 19, finding 6): a signature binds the pickle
to its workflow name, version hash and task names, and keys rotate with a window in which
the previous key still verifies."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from typing import Any

import pytest

from hatchnb import Context, EmptyModel, FailedRunError, Hatchet

pytestmark = [pytest.mark.integration, pytest.mark.workers]


def report(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"report": "quarterly"}


def steal(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"stolen": "secrets"}


def numbers(input: EmptyModel, ctx: Context) -> set[int]:
    return {1, 2}  # not JSON: a pickled, signed output


def _declare(client: Hatchet) -> dict[str, Any]:
    """The same workflows, with the same content hash, from any client."""
    declared = {}
    for name, fn in (("victim", report), ("evil", steal), ("rotating", numbers)):
        wf = client.workflow(name=name)
        wf.task(name=fn.__name__, execution_timeout="60s")(fn)
        client.register(wf)
        declared[name] = wf
    return declared


@pytest.fixture
def clients(dsn: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``make(key, previous)``: a client with these keys (read from the environment)."""
    made: list[Hatchet] = []

    def make(key: str, previous: str = "") -> Hatchet:
        monkeypatch.setenv("HATCHNB_SIGNING_KEY", key)
        monkeypatch.setenv("HATCHNB_SIGNING_KEY_PREVIOUS", previous)
        made.append(Hatchet(dsn=dsn))
        return made[-1]

    yield make
    for client in made:
        client.close()


def _task_row(db: Any, workflow: str) -> dict[str, Any]:
    row: dict[str, Any] = db.execute(
        "SELECT status, attempt, error FROM hatchnb.task_runs WHERE workflow_name = %s",
        (workflow,),
    ).fetchone()
    return row


def test_signed_code_copied_into_another_workflow_fails_the_run_saying_why(
    clients: Any, db: Any, worker_process: Any
) -> None:
    client = clients("s3cret")
    _declare(client)
    # the attack: another workflow's signed pickle in this workflow's version row, and the
    # task renamed in the (unsigned) spec to the name the pickle has
    db.execute(
        "UPDATE hatchnb.workflow_versions v "
        "SET code = e.code, signature = e.signature, "
        "    spec = jsonb_set(v.spec, '{tasks,0,name}', '\"steal\"') "
        "FROM hatchnb.workflow_versions e "
        "WHERE v.workflow_name = 'victim' AND e.workflow_name = 'evil'"
    )
    worker_process("--slots", "1", HATCHNB_SIGNING_KEY="s3cret")
    run = client.runs.create("victim", {})
    with pytest.raises(FailedRunError) as failed:
        client.runs.get_run_ref(run.workflow_run_id).result(timeout=30)
    message = str(failed.value)
    assert "(workflow 'victim') has a signature that does not match its code, workflow" in message
    assert "moved from another workflow or version" in message
    row = _task_row(db, "victim")
    assert (row["status"], row["attempt"]) == ("FAILED", 1)  # refused at once, not retried


def test_a_previous_key_is_accepted_during_a_rotation_window(
    clients: Any, db: Any, worker_process: Any
) -> None:
    old_client = clients("k-old")
    declared = _declare(old_client)  # code signed with the old key
    rotating = worker_process(
        "--slots", "1", HATCHNB_SIGNING_KEY="k-new", HATCHNB_SIGNING_KEY_PREVIOUS="k-old"
    )
    ref = declared["rotating"].run_no_wait()
    # the worker signs its pickled output with the new key; a client that has not switched
    # yet (old key, new one accepted: the first step of a rotation) reads it
    half_way = clients("k-old", "k-new")
    assert half_way.runs.get_run_ref(ref.workflow_run_id).result(timeout=30) == {"numbers": {1, 2}}
    rotating.stop()

    # the window closes: a worker with the new key alone refuses what only the old key signed
    worker_process("--slots", "1", HATCHNB_SIGNING_KEY="k-new")
    with pytest.raises(FailedRunError, match="or signed with another key; it was not run"):
        declared["victim"].run()
    # registering again from a client with the new key re-signs the same version in place
    _declare(clients("k-new"))
    assert declared["victim"].run() == {"report": {"report": "quarterly"}}


def test_code_signed_by_an_older_hatchnb_is_refused_until_registered_again(
    clients: Any, db: Any, worker_process: Any
) -> None:
    client = clients("s3cret")
    declared = _declare(client)
    row = db.execute(
        "SELECT id, code FROM hatchnb.workflow_versions WHERE workflow_name = 'victim'"
    ).fetchone()
    older = hmac.new(b"s3cret", bytes(row["code"]), hashlib.sha256).hexdigest()
    db.execute(
        "UPDATE hatchnb.workflow_versions SET signature = %s WHERE id = %s", (older, row["id"])
    )
    worker_process("--slots", "1", HATCHNB_SIGNING_KEY="s3cret")
    with pytest.raises(FailedRunError, match=r"older signature .* register the workflow again"):
        declared["victim"].run()
    _declare(clients("s3cret"))  # a fresh client registers (and signs) the same content
    assert declared["victim"].run() == {"report": {"report": "quarterly"}}
