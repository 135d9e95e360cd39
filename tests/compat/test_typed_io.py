"""hatchet_sdk v1 task I/O through a real worker (written from its documented API):
``Depends`` parameters, ``ctx.task_output`` rebuilt as the parent's declared type, and
dataclass inputs and outputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import pydantic
import pytest
from pydantic import BaseModel

from hatchnb import Context, Depends, EmptyModel
from hatchnb.serde import is_in_hatchet_serialization_context

pytestmark = pytest.mark.integration


class Measured(BaseModel):
    value: int


@dataclasses.dataclass
class Greeting:
    name: str
    punctuation: str = "!"


@dataclasses.dataclass
class Reply:
    message: str


def prefix(input: Greeting, ctx: Context) -> str:
    return f"{ctx.workflow_name}:"


@contextmanager
def connection(input: Greeting, ctx: Context, p: Annotated[str, Depends(prefix)]) -> Iterator[str]:
    yield p + "conn"


def test_dependencies_and_dataclasses_through_a_worker(hatchet: Any, start_worker: Any) -> None:
    @hatchet.task(name="greet", input_validator=Greeting)
    def greet(input: Greeting, ctx: Context, conn: Annotated[str, Depends(connection)]) -> Reply:
        return Reply(message=f"{conn} hello {input.name}{input.punctuation}")

    start_worker(greet)
    assert greet.run(Greeting(name="ada")) == Reply(message="greet:conn hello ada!")


def test_task_output_is_the_parents_declared_type(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="typed-dag")

    @wf.task()
    def measure(input: EmptyModel, ctx: Context) -> Measured:
        return Measured(value=21)

    @wf.task(parents=[measure])
    def double(input: EmptyModel, ctx: Context) -> dict[str, Any]:
        parent = ctx.task_output(measure)
        return {"type": type(parent).__name__, "value": parent.value * 2}

    start_worker(wf)
    assert wf.run()["double"] == {"type": "Measured", "value": 42}


class Secret(BaseModel):
    """Reversed when hatchnb stores it, restored when hatchnb loads it."""

    value: str

    @pydantic.field_serializer("value")
    def _hide(self, value: str, info: pydantic.SerializationInfo) -> str:
        return value[::-1] if is_in_hatchet_serialization_context(info.context) else value

    @pydantic.field_validator("value")
    @classmethod
    def _reveal(cls, value: str, info: pydantic.ValidationInfo) -> str:
        return value[::-1] if is_in_hatchet_serialization_context(info.context) else value


def test_models_see_the_serialization_context(hatchet: Any, start_worker: Any) -> None:
    wf = hatchet.workflow(name="serde", input_validator=Secret)

    @wf.task()
    def produce(input: Secret, ctx: Context) -> Secret:
        return Secret(value=input.value + "!")

    @wf.task(parents=[produce])
    def consume(input: Secret, ctx: Context) -> dict[str, str]:
        return {"seen": ctx.task_output(produce).value}

    start_worker(wf)
    ref = wf.run_no_wait(Secret(value="abc"))
    outputs = ref.result(timeout=30)
    assert outputs["produce"] == {"value": "!cba"}  # stored form
    assert outputs["consume"] == {"seen": "abc!"}
    assert hatchet.runs.get(ref.workflow_run_id).input == {"value": "cba"}
