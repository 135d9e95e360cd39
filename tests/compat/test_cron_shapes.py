"""The cron calls of hatchet_sdk's examples (written from its documented API):
``workflow.to_proto()`` (the declaration, as a plain record here), and triggering a cron now
through the REST handle: ``hatchet.cron._wa(client).workflow_cron_trigger(...)``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel

from hatchnb import Context, EmptyModel

pytestmark = pytest.mark.integration


class Greeting(BaseModel):
    name: str


def test_the_declaration_says_which_optional_fields_are_set(hatchet: Any) -> None:
    @hatchet.task(input_validator=Greeting, on_crons=["0 0 * 1 0"], cron_input=Greeting(name="H"))
    def greet(input: Greeting, ctx: Context) -> dict[str, str]:
        return {"message": f"Hello, {input.name}!"}

    @hatchet.task(on_events=["plain:go"])
    def plain(input: EmptyModel, ctx: Context) -> None:
        return None

    declared = greet.to_proto()
    assert declared.HasField("cron_input") and json.loads(declared.cron_input) == {"name": "H"}
    assert declared.cron_triggers == ["0 0 * 1 0"] and declared.name == "greet"
    assert [t["name"] for t in declared.tasks] == ["greet"]
    assert json.loads(declared.input_json_schema)["properties"]["name"]["type"] == "string"
    bare = plain.to_proto()
    assert not bare.HasField("cron_input") and bare.event_triggers == ["plain:go"]
    with pytest.raises(ValueError, match="no field 'nope'"):
        bare.HasField("nope")


def test_a_cron_is_triggered_now_through_the_rest_handle(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(input_validator=Greeting, on_crons=["0 0 * 1 0"], cron_input=Greeting(name="H"))
    def greet(input: Greeting, ctx: Context) -> dict[str, str]:
        return {"message": f"Hello, {input.name}!"}

    start_worker(greet)
    with hatchet.cron.client() as client:
        crons = hatchet.cron.list(workflow_id=greet.id)
        assert len(crons.rows) == 1
        started = hatchet.cron._wa(client).workflow_cron_trigger(
            tenant=hatchet.tenant_id, cron_workflow=crons.rows[0].metadata.id
        )
    result = hatchet.runs.get_run_ref(started.external_id).result(timeout=30)
    assert result == {"greet": {"message": "Hello, H!"}}
