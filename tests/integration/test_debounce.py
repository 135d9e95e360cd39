"""Debounced triggers: a burst with one key starts one run with the last input."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from hatchnb import Context, DebounceConfig, EmptyModel, HatchnbError
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.workers]


def test_a_burst_with_one_key_starts_one_run_with_the_last_input(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task(
        debounce=DebounceConfig(key_expression="input.user", window=timedelta(seconds=0.5))
    )
    def save(input: EmptyModel, ctx: Context) -> str:
        return str(input.model_extra["text"])

    start_worker(save)
    started = time.monotonic()
    refs = [save.run_no_wait({"user": "ann", "text": t}) for t in ("a", "ab", "abc")]
    other = save.run_no_wait({"user": "bob", "text": "hi"})
    assert len({r.workflow_run_id for r in refs}) == 1
    assert other.workflow_run_id != refs[0].workflow_run_id
    assert refs[-1].result(timeout=20) == "abc"  # the last input
    assert time.monotonic() - started >= 0.5  # the window after the last trigger
    assert other.result(timeout=20) == "hi"
    later = save.run_no_wait({"user": "ann", "text": "again"})  # the burst's run has run
    assert later.workflow_run_id != refs[0].workflow_run_id
    assert later.result(timeout=20) == "again"
    assert len(save.list_runs()) == 3


def test_racing_triggers_with_one_key_start_one_run(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(debounce=DebounceConfig(key_expression="input.k", window=timedelta(seconds=1)))
    def raced(input: EmptyModel, ctx: Context) -> None:
        return None

    hatchet.register(raced)
    ids: list[str] = []
    go = threading.Event()

    def trigger() -> None:
        go.wait()
        ids.extend(raced.run_no_wait({"k": "same"}).workflow_run_id for _ in range(5))

    threads = [threading.Thread(target=trigger) for _ in range(8)]
    for thread in threads:
        thread.start()
    go.set()
    for thread in threads:
        thread.join(30)
    assert len(ids) == 40 and len(set(ids)) == 1
    start_worker(raced)
    wait_until(
        lambda: len(raced.list_runs()) == 1 and raced.list_runs()[0].status.value == "SUCCEEDED"
    )


def test_bad_debounce_declarations_are_refused(hatchet: Any) -> None:
    with pytest.raises(TypeError, match="debounce= takes DebounceConfig"):
        hatchet.task(debounce=timedelta(seconds=1))(lambda i, c: None)
    with pytest.raises(HatchnbError, match="window must be positive"):
        hatchet.task(debounce=DebounceConfig(key_expression="input.k", window=timedelta(0)))(
            lambda i, c: None
        )
