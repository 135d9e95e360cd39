"""hatchet_sdk's idempotency= (written from its documented API): a trigger whose key is held
starts no run, under any number of racing processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from hatchnb import (
    BulkTriggerIdempotencyCollisionError,
    Context,
    EmptyModel,
    IdempotencyCollisionError,
    StatusBasedIdempotencyConfig,
    TTLBasedIdempotencyConfig,
)
from tests.conftest import direct_url_env, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


def test_a_held_key_starts_no_run_until_its_ttl_passes(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(
        idempotency=TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(seconds=1))
    )
    def once(input: EmptyModel, ctx: Context) -> str:
        return str(input.model_extra["id"])

    start_worker(once)
    first = once.run_no_wait({"id": "a"})
    with pytest.raises(IdempotencyCollisionError) as held:
        once.run_no_wait({"id": "a"})
    assert held.value.existing_run_external_id == first.workflow_run_id
    assert once.run({"id": "b"}) == "b"  # another key
    time.sleep(1.1)
    assert once.run({"id": "a"}) == "a"  # the key's time is up
    assert first.result(timeout=10) == "a"
    assert len(once.list_runs()) == 3


def test_a_status_based_key_is_held_while_its_run_is_unfinished(
    hatchet: Any, start_worker: Any, tmp_path: Path
) -> None:
    gate = tmp_path / "open"

    @hatchet.task(
        idempotency=StatusBasedIdempotencyConfig(
            key_expression="input.id", fallback_ttl=timedelta(minutes=5)
        )
    )
    def guarded(input: EmptyModel, ctx: Context) -> str:
        while not gate.exists():
            time.sleep(0.05)
        return "done"

    start_worker(guarded)
    first = guarded.run_no_wait({"id": 7})
    with pytest.raises(IdempotencyCollisionError):
        guarded.run_no_wait({"id": 7})
    gate.touch()
    first.result(timeout=10)
    assert guarded.run({"id": 7}) == "done"  # its holder finished: the key is free


def test_bulk_triggers_start_the_free_keys_and_report_the_rest(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task(
        idempotency=TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(minutes=1))
    )
    async def item(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(item)
    items = [item.create_bulk_run_item({"id": key}) for key in ("x", "x", "y")]
    with pytest.raises(BulkTriggerIdempotencyCollisionError) as bulk:
        item.run_many_no_wait(items)
    assert len(bulk.value.successful_workflow_run_external_ids) == 2
    [collision] = bulk.value.collisions
    assert collision.existing_run_external_id == bulk.value.successful_workflow_run_external_ids[0]
    with pytest.raises(IdempotencyCollisionError):
        item.run(wait_for_result=False, input={"id": "y"})


def test_events_skip_runs_whose_key_is_held(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(
        on_events=["order:placed"],
        idempotency=TTLBasedIdempotencyConfig(
            key_expression="input.order", ttl=timedelta(minutes=1)
        ),
    )
    def handle(input: EmptyModel, ctx: Context) -> None:
        return None

    @hatchet.task(
        on_events=["order:placed"],
        idempotency=TTLBasedIdempotencyConfig(
            key_expression="input.order", ttl=timedelta(minutes=1)
        ),
    )
    def also(input: EmptyModel, ctx: Context) -> None:
        return None

    start_worker(handle, also)
    pushed = [hatchet.event.push("order:placed", {"order": 1}) for _ in range(3)]
    # as in Hatchet a key is one for all workflows: the first workflow's run holds it
    assert [len(e.run_ids) for e in pushed] == [1, 0, 0]
    listed = hatchet.event.list(event_ids=[e.event_id for e in pushed]).rows
    triggered = [r.workflow_run_id for e in listed for r in e.triggered_runs]
    assert triggered == pushed[0].run_ids
    assert len(hatchet.event.push("order:placed", {"order": 2}).run_ids) == 1


RACER = """
import os, sys, time
from datetime import timedelta
from hatchnb import Hatchet, IdempotencyCollisionError, TTLBasedIdempotencyConfig

hatchet = Hatchet()

@hatchet.task(
    name="raced",
    idempotency=TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(minutes=5)),
)
def raced(input, ctx):
    return None

hatchet.register(raced)
open(sys.argv[1] + "." + str(os.getpid()), "w").close()  # ready
while not os.path.exists(sys.argv[1]):  # everyone triggers at once
    time.sleep(0.001)
started = 0
for _ in range(5):
    try:
        raced.run_no_wait({"id": "the-one"})
        started += 1
    except IdempotencyCollisionError:
        pass
print(started)
"""


def test_eight_racing_processes_start_one_run(hatchet: Any, dsn: str, tmp_path: Path) -> None:
    script = tmp_path / "racer.py"
    script.write_text(textwrap.dedent(RACER))
    env = {"HATCHNB_DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", **direct_url_env()}
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, str(script), str(go)], stdout=subprocess.PIPE, env=env, text=True
        )
        for _ in range(8)
    ]
    wait_until(lambda: len(list(tmp_path.glob("go.*"))) == 8, timeout=60, message="racers")
    go.touch()
    started = [int(p.communicate(timeout=120)[0].strip() or "-1") for p in racers]
    assert all(p.returncode == 0 for p in racers)
    assert sum(started) == 1
    wait_until(lambda: len(hatchet.runs.list(workflow_names=["raced"])) == 1)
