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


def _notebook(parameters_source: str, tagged: bool = True) -> str:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    cell = new_code_cell(parameters_source)
    if tagged:
        cell.metadata["tags"] = ["parameters"]
    return str(nbformat.writes(new_notebook(cells=[new_code_cell("import os"), cell])))


PARAMETERS_CELL = """\
%matplotlib inline
n = 3  # how many rows
scale: float = 1
label = "week#1"
verbose = False
columns = ("a", "b")
options = {"mode": "fast"}
nothing = None
start = os.environ.get("START")
left, right = 1, 2
upstream = {}
"""


def test_a_notebooks_parameters_cell_makes_its_input_schema() -> None:
    from hatchnb.notebook_parameters import schema_of

    schema = schema_of(_notebook(PARAMETERS_CELL), {"label": "month"}, ["upstream"])
    assert schema is not None
    props = schema["properties"]
    assert schema["x-property-order"] == [
        "n", "scale", "label", "verbose", "columns", "options", "nothing", "start",
    ]  # fmt: skip
    assert props["n"] == {"title": "n", "type": "integer", "default": 3,
                          "description": "how many rows"}  # fmt: skip
    assert props["scale"]["type"] == "number" and props["scale"]["default"] == 1
    assert props["label"]["default"] == "month"  # notebook_task(parameters=...) wins
    assert props["verbose"] == {"title": "verbose", "type": "boolean", "default": False}
    assert props["columns"]["type"] == "array" and props["columns"]["default"] == ["a", "b"]
    assert props["options"]["type"] == "object"
    assert props["nothing"] == {"title": "nothing"}  # None: any JSON, no default
    assert props["start"] == {"title": "start", "description": 'os.environ.get("START")'}
    fields = fields_of(schema)
    kinds = {f.name: f.kind for f in fields}
    assert kinds == {"n": "integer", "scale": "number", "label": "string",
                     "verbose": "boolean", "columns": "json", "options": "json",
                     "nothing": "json", "start": "json"}  # fmt: skip
    assert not any(f.required for f in fields)
    # fields left empty are left out: the notebook's own defaults apply
    values = {"n": 5, "scale": 2.5, "label": "", "verbose": True, "columns": "", "options": "",
              "nothing": "", "start": '"2026-01-01"'}  # fmt: skip
    assert input_of(fields, values) == {"n": 5, "scale": 2.5, "verbose": True,
                                        "start": "2026-01-01"}  # fmt: skip


def test_a_notebook_without_a_parameters_cell_has_no_schema() -> None:
    from hatchnb.notebook_parameters import merged, read_parameters, schema_of

    assert schema_of(_notebook("n = 3", tagged=False), {}, []) is None
    assert merged([None, None]) is None
    assert read_parameters("def broken(:\n") == []
    one = schema_of(_notebook("n = 3"), {}, [])
    two = schema_of(_notebook("n = 'x'\nm = 1.5"), {}, [])
    both = merged([one, two])
    assert both is not None
    assert both["properties"]["n"]["type"] == "integer"  # the first task that names it
    assert both["x-property-order"] == ["n", "m"]
