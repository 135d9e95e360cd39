"""``task.mock_run`` / ``aio_mock_run``, ``Depends`` injection, typed ``ctx.task_output``
and dataclasses shipped by value: hatchet_sdk's unit-testing surface, with no database."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
import types
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any

import cloudpickle
import pytest
from pydantic import BaseModel

from hatchnb import Context, Depends, DurableContext, EmptyModel, errors, serialization
from hatchnb.types import ClientConfig
from hatchnb.workflow import Workflow


class _NoClient:
    """mock_run never touches the client (only its namespace setting)."""

    config = ClientConfig()
    _declared: dict[str, Any] = {}


class Point(BaseModel):
    x: int


def _wf() -> Workflow[Any]:
    return Workflow(_NoClient(), "unit", input_validator=Point)  # type: ignore[arg-type]


opened: list[str] = []


def base(input: Point, ctx: Context) -> int:
    return input.x * 10


async def async_base(input: Point, ctx: Context) -> int:
    return input.x * 100


@contextmanager
def session(input: Point, ctx: Context, scale: Annotated[int, Depends(base)]) -> Iterator[str]:
    opened.append("open")
    yield f"session-{scale}"
    opened.append("close")


@asynccontextmanager
async def async_session(
    input: Point, ctx: Context, scale: Annotated[int, Depends(async_base)]
) -> AsyncIterator[str]:
    yield f"async-{scale}"
    opened.append("async-close")


def test_mock_run_gives_the_task_a_context_without_hatchet() -> None:
    wf = _wf()

    @wf.task()
    def first(input: Point, ctx: Context) -> Point:
        return Point(x=input.x + 1)

    @wf.task(parents=[first])
    def second(input: Point, ctx: Context) -> dict[str, Any]:
        parent = ctx.task_output(first)
        return {
            "parent": parent.x,
            "meta": ctx.additional_metadata,
            "retry": ctx.retry_count,
            "lifespan": ctx.lifespan,
        }

    out = second.mock_run(
        Point(x=1),
        additional_metadata={"k": "v"},
        parent_outputs={"first": {"x": 5}},
        retry_count=2,
        lifespan="resources",
    )
    assert out == {"parent": 5, "meta": {"k": "v"}, "retry": 2, "lifespan": "resources"}
    assert first.mock_run(Point(x=1)) == Point(x=2)
    with pytest.raises(TypeError, match="use mock_run"):
        asyncio.run(first.aio_mock_run(Point(x=1)))


def test_aio_mock_run_and_durable_tasks() -> None:
    wf = _wf()

    @wf.durable_task()
    async def durable(input: Point, ctx: DurableContext) -> int:
        assert isinstance(ctx, DurableContext)
        return input.x

    assert asyncio.run(durable.aio_mock_run(Point(x=3))) == 3
    with pytest.raises(TypeError, match="use aio_mock_run"):
        durable.mock_run(Point(x=3))


def test_dependencies_are_resolved_and_closed_for_sync_and_async_tasks() -> None:
    wf = _wf()
    opened.clear()

    @wf.task()
    def sync_task(
        input: Point,
        ctx: Context,
        scale: Annotated[int, Depends(base)],
        s: Annotated[str, Depends(session)],
        a: Annotated[str, Depends(async_session)],
    ) -> list[Any]:
        assert opened == ["open"]
        return [scale, s, a]

    @wf.task()
    async def async_task(
        input: Point, ctx: Context, a: Annotated[str, Depends(async_session)]
    ) -> str:
        return a

    assert sync_task.mock_run(Point(x=2)) == [20, "session-20", "async-200"]
    assert opened == ["open", "async-close", "close"]
    assert asyncio.run(async_task.aio_mock_run(Point(x=1))) == "async-100"
    # given dependencies are used as they are
    assert asyncio.run(async_task.aio_mock_run(Point(x=1), dependencies={"a": "given"})) == (
        "given"
    )


def test_a_dependency_must_take_input_and_ctx() -> None:
    with pytest.raises(errors.InvalidWorkflow, match="must take \\(input, ctx\\)"):
        Depends(lambda input: 1)


def test_a_dataclass_shipped_by_value_validates_after_loading() -> None:
    module = types.ModuleType("shipped_by_value")
    module.__file__ = "/tmp/shipped_by_value.py"
    sys.modules[module.__name__] = module
    exec(
        "from dataclasses import dataclass\n"
        "@dataclass\nclass Input:\n    name: str\n    n: int = 1\n"
        "def task(input, ctx):\n    return input\n",
        module.__dict__,
    )
    code = serialization.WorkflowCode(functions={"task": module.task}, input_validator=module.Input)
    blob = serialization.pickle_code(code, "shipped")
    del sys.modules[module.__name__]
    loaded = cloudpickle.loads(blob)
    value = serialization.load_input({"name": "x"}, loaded.input_validator)
    assert dataclasses.asdict(value) == {"name": "x", "n": 1}


def test_empty_input_when_none_is_given() -> None:
    wf: Workflow[Any] = Workflow(_NoClient(), "empty")  # type: ignore[arg-type]

    @wf.task()
    def t(input: EmptyModel, ctx: Context) -> bool:
        return isinstance(input, EmptyModel)

    assert t.mock_run() is True
