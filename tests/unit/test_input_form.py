"""Form fields from an input JSON schema and the input a filled form makes (no database)."""

from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel

from hatchnb import errors
from hatchnb.input_form import Field, fields_of, input_of
from hatchnb.serialization import input_json_schema


class Order(BaseModel):
    customer: str
    quantity: int = 1
    price: float
    express: bool = False
    size: Literal["S", "M", "L"] = "M"
    tags: list[str] = []
    note: str | None = None


def test_fields_follow_the_schema_pydantic_writes() -> None:
    fields = {f.name: f for f in fields_of(input_json_schema(Order))}
    assert [(f.kind, f.required) for f in fields.values()] == [
        ("string", True),
        ("integer", False),
        ("number", True),
        ("boolean", False),
        ("enum", False),
        ("json", False),
        ("string", False),  # Optional[str] is edited as a string that may stay empty
    ]
    assert fields["size"].choices == ("S", "M", "L") and fields["size"].default == "M"
    assert fields["quantity"].default == 1


def test_the_input_leaves_out_empty_optional_fields_and_parses_json_ones() -> None:
    fields = fields_of(input_json_schema(Order))
    values = {"customer": "ada", "quantity": 2, "price": 9.5, "express": True, "size": "L"}
    data = input_of(fields, {**values, "tags": '["a"]', "note": ""})
    assert data == {**values, "tags": ["a"]}
    assert Order.model_validate(data).tags == ["a"]
    with pytest.raises(errors.InvalidInput, match="tags: not JSON"):
        input_of(fields, {**values, "tags": "[a"})
    with pytest.raises(errors.InvalidInput, match="customer is required"):
        input_of([Field("customer", "json", required=True)], {"customer": ""})


def test_a_workflow_without_a_schema_takes_one_json_object() -> None:
    fields = fields_of(None)
    assert [f.name for f in fields] == ["input"]
    assert input_of(fields, {"input": '{"n": 3}'}) == {"n": 3}
    assert input_of(fields, {"input": ""}) == {}
    with pytest.raises(errors.InvalidInput, match="JSON object"):
        input_of(fields, {"input": "[1]"})
