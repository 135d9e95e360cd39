"""hatchet_sdk's namespace (``ClientConfig(namespace=)`` / ``HATCHET_CLIENT_NAMESPACE``):
workflow, worker and event key names are prefixed, so two namespaces share a database
without starting each other's runs."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from hatchnb import ClientConfig, Context, DurableContext, EmptyModel, Hatchet
from tests.conftest import wait_until

pytestmark = pytest.mark.integration


def test_the_namespace_is_lower_cased_and_ends_in_an_underscore(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = ClientConfig(namespace="Team")
    assert config.namespace == "team_"
    assert config.apply_namespace("etl") == "team_etl"
    assert config.apply_namespace("team_etl") == "team_etl"  # not twice
    assert config.apply_namespace("etl", "other_") == "other_etl"
    assert config.apply_namespace(None) is None
    monkeypatch.setenv("HATCHET_CLIENT_NAMESPACE", "ci-311")
    assert ClientConfig().namespace == "ci-311_"


def test_names_and_event_keys_are_namespaced_and_namespaces_stay_apart(
    dsn: str, start_worker: Any
) -> None:
    team = Hatchet(dsn=dsn, config=ClientConfig(namespace="team"))
    other = Hatchet(dsn=dsn, config=ClientConfig(namespace="other"))

    @team.task(on_events=["user:created"])
    def greet(input: EmptyModel, ctx: Context) -> dict[str, str]:
        return {"hello": "team"}

    @team.durable_task()
    async def waiter(input: EmptyModel, ctx: DurableContext) -> Any:
        return await ctx.aio_wait_for_event("go")

    assert greet.name == "team_greet"
    worker = team.worker("w", slots=4, workflows=[greet, waiter])
    worker.start_background()
    try:
        assert greet.run() == {"hello": "team"}  # the task keeps its own name
        assert [w.name for w in team.workers.list()] == ["team_w"]
        assert [w.name for w in team.workflows.list()] == ["team_greet", "team_waiter"]
        assert team.workflows.get("greet").name == "team_greet"

        pushed = other.event.push("user:created", {})
        assert (pushed.key, pushed.run_ids) == ("other_user:created", [])
        pushed = team.event.push("user:created", {})
        assert pushed.key == "team_user:created" and len(pushed.run_ids) == 1
        assert team.runs.get_result(pushed.run_ids[0]) == {"greet": {"hello": "team"}}

        ref = waiter.run_no_wait()
        # a durable wait sees the events pushed after it began, as in Hatchet
        with psycopg.connect(dsn, autocommit=True) as db:
            wait_until(
                lambda: db.execute(
                    "SELECT 1 FROM hatchnb.durable_events WHERE kind IN ('event', 'wait')"
                ).fetchone(),
                20,
                "the durable wait recorded",
            )
        other.event.push("go", {"from": "other"})  # another namespace's key: no match
        team.event.push("go", {"from": "team"})
        assert ref.result(timeout=30) == {"from": "team"}

        run = team.runs.create("greet", {})  # by its own name, as hatchet_sdk resolves it
        assert run.workflow_name == "team_greet"
        assert team.runs.get_result(run.workflow_run_id) == {"greet": {"hello": "team"}}
    finally:
        worker.stop(10)
        team.close()
        other.close()
