"""hatchet_sdk v1's ``default_filters=`` (written from its documented API): declared event
filters are created when the workflow is registered, once, also when registrations race."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from hatchnb import Context, DefaultFilter, EmptyModel
from hatchnb.expressions import InvalidExpression
from tests.conftest import direct_url_env

pytestmark = pytest.mark.integration

DECLARE = """
from hatchnb import Context, DefaultFilter, EmptyModel, Hatchet

hatchet = Hatchet()

@hatchet.task(
    name="filtered",
    on_events=["orders:new"],
    default_filters=[DefaultFilter(expression="input.total > 10", scope="shop", payload={"k": 1})],
)
def filtered(input: EmptyModel, ctx: Context) -> dict:
    return {"filter": ctx.filter_payload}

hatchet.register(filtered)
"""


def test_default_filters_are_created_once_and_applied(
    hatchet: Any, start_worker: Any, tmp_path: Path, dsn: str
) -> None:
    script = tmp_path / "declare.py"
    script.write_text(textwrap.dedent(DECLARE))
    env = {"HATCHNB_DATABASE_URL": dsn, "PATH": "/usr/bin:/bin", **direct_url_env()}
    racers = [
        subprocess.Popen([sys.executable, str(script)], env=env, cwd=tmp_path) for _ in range(4)
    ]
    assert [p.wait(60) for p in racers] == [0] * 4
    [made] = hatchet.filters.list(workflow_ids=["filtered"]).rows
    assert (made.expression, made.scope, made.payload) == ("input.total > 10", "shop", {"k": 1})

    @hatchet.task(
        name="filtered",
        on_events=["orders:new"],
        default_filters=[DefaultFilter(expression="input.total > 10", scope="shop", payload={})],
    )
    def filtered(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"filter": ctx.filter_payload}

    start_worker(filtered)
    assert len(hatchet.filters.list(workflow_ids=["filtered"]).rows) == 1
    small = hatchet.event.push("orders:new", {"total": 5}, scope="shop")
    big = hatchet.event.push("orders:new", {"total": 50}, scope="shop")
    assert small.run_ids == [] and len(big.run_ids) == 1
    ref = hatchet.runs.get_run_ref(big.run_ids[0])
    deadline = time.monotonic() + 20
    assert ref.result(timeout=max(1.0, deadline - time.monotonic())) == {
        "filtered": {"filter": {"k": 1}}
    }


def test_a_default_filter_with_a_bad_expression_is_refused(hatchet: Any) -> None:
    with pytest.raises(InvalidExpression):
        hatchet.workflow(name="bad", default_filters=[DefaultFilter(expression="((", scope="s")])


def test_in_a_filter_input_is_the_event_and_payload_the_filters(
    hatchet: Any, start_worker: Any
) -> None:
    @hatchet.task(name="payload-filter", on_events=["pf:go"])
    def filtered(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        return {"filter": ctx.filter_payload}

    start_worker(filtered)
    hatchet.filters.create(
        filtered.id, "input.run == payload.wanted && event_key == 'pf:go'", "s", {"wanted": "a"}
    )
    assert hatchet.event.push("pf:go", {"run": "b"}, scope="s").run_ids == []
    [run_id] = hatchet.event.push("pf:go", {"run": "a"}, scope="s").run_ids
    out = hatchet.runs.get_run_ref(run_id).result(timeout=20)
    assert out == {"payload-filter": {"filter": {"wanted": "a"}}}
