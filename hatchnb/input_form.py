"""Form fields from a workflow's input JSON schema (the one stored with its registered
version), and the input a filled form makes: no widgets here, so the notebook form and any
other front end share the rules."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from hatchnb import errors
from hatchnb.serialization import PROPERTY_ORDER

#: JSON schema types a field edits directly; anything else is edited as JSON text
SIMPLE = ("string", "integer", "number", "boolean")


@dataclasses.dataclass(frozen=True)
class Field:
    """One input field: ``kind`` is a JSON schema type from SIMPLE, ``enum`` or ``json``."""

    name: str
    kind: str
    required: bool
    default: Any = None
    choices: tuple[Any, ...] = ()
    description: str = ""


def fields_of(schema: dict[str, Any] | None) -> list[Field]:
    """The fields of an input schema's top-level properties (none: the input is any JSON
    object, edited as one JSON text field named ``input``)."""
    properties = (schema or {}).get("properties")
    if not isinstance(properties, dict):
        return [Field("input", "json", required=False, default={})]
    required = set((schema or {}).get("required", []))
    declared = [n for n in (schema or {}).get(PROPERTY_ORDER, []) if n in properties]
    order = declared + sorted(set(properties) - set(declared))
    return [_field(name, properties[name] or {}, name in required) for name in order]


def _field(name: str, prop: dict[str, Any], required: bool) -> Field:
    options = [p for p in prop.get("anyOf", []) if p.get("type") != "null"]
    if len(options) == 1:  # Optional[X]: X, not required to be given
        prop = {**options[0], **{k: v for k, v in prop.items() if k != "anyOf"}}
    default = prop.get("default")
    described = str(prop.get("description") or prop.get("title") or "")
    if "enum" in prop:
        return Field(name, "enum", required, default, tuple(prop["enum"]), described)
    kind = prop.get("type")
    return Field(name, kind if kind in SIMPLE else "json", required, default, (), described)


def input_of(fields: list[Field], values: dict[str, Any]) -> dict[str, Any]:
    """The run input from the form's values (JSON fields as text); fields left empty and
    not required are left out, so the workflow's defaults apply."""
    data: dict[str, Any] = {}
    for field in fields:
        value = values.get(field.name)
        if field.kind == "json":
            value = _parsed(field.name, value)
        elif field.kind == "string" and value == "":
            value = None  # an empty box is a value not given
        if value is None and not field.required:
            continue
        if value is None:
            raise errors.InvalidInput(f"{field.name} is required: fill it in")
        data[field.name] = value
    if [f.name for f in fields] == ["input"] and fields[0].kind == "json":
        plain = data.get("input", {})
        if not isinstance(plain, dict):
            raise errors.InvalidInput('the input must be a JSON object, e.g. {"n": 3}')
        return plain
    return data


def _parsed(name: str, text: Any) -> Any:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        return json.loads(text)
    except (TypeError, json.JSONDecodeError) as exc:
        raise errors.InvalidInput(f'{name}: not JSON ({exc}); e.g. [1, 2] or {{"a": 1}}') from None
