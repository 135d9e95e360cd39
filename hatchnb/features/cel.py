"""``hatchet.cel``: try a CEL expression on a sample input, metadata and filter payload,
as Hatchet's CEL debugger does, before putting it in a filter or a condition."""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from pydantic import BaseModel, Field

from hatchnb import expressions


class CELSuccess(BaseModel):
    status: Literal["success"] = "success"
    output: bool


class CELFailure(BaseModel):
    status: Literal["failure"] = "failure"
    error: str


class CELEvaluationResult(BaseModel):
    result: CELSuccess | CELFailure = Field(discriminator="status")


class CELClient:
    """``hatchet.cel``: evaluates with the variables event filters see (``input``,
    ``additional_metadata``, ``payload`` = ``filter_payload``)."""

    def debug(
        self,
        expression: str,
        input: dict[str, Any],
        additional_metadata: dict[str, Any] | None = None,
        filter_payload: dict[str, Any] | None = None,
    ) -> CELEvaluationResult:
        """The expression's boolean value, or why it has none (a syntax error, a runtime
        error, or a value that is not a boolean)."""
        variables = {
            "input": input,
            "additional_metadata": additional_metadata or {},
            "payload": filter_payload or {},
            "filter_payload": filter_payload or {},
        }
        try:
            value = expressions.evaluate(expression, variables)
        except expressions.InvalidExpression as exc:
            return CELEvaluationResult(result=CELFailure(error=str(exc)))
        if not isinstance(value, bool):
            error = f"the expression gives {type(value).__name__} {value!r}, not a boolean"
            return CELEvaluationResult(result=CELFailure(error=error))
        return CELEvaluationResult(result=CELSuccess(output=value))

    async def aio_debug(
        self,
        expression: str,
        input: dict[str, Any],
        additional_metadata: dict[str, Any] | None = None,
        filter_payload: dict[str, Any] | None = None,
    ) -> CELEvaluationResult:
        return await asyncio.to_thread(
            self.debug, expression, input, additional_metadata, filter_payload
        )
