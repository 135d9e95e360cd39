"""A notebook task's input schema, read from its papermill ``parameters`` cell: one
property per assignment (``n = 3``, ``scale: float = 1``), its type from the literal (or the
annotation) and the literal as its default. Forms (``%hatchet form``, the run widget, the
dashboard's *Run it*) are made from it, and the HTTP API checks inputs against it. Pure: the
notebook's JSON text in, a JSON schema out."""

from __future__ import annotations

import ast
import dataclasses
import json
from collections.abc import Iterable
from typing import Any

from hatchnb.serialization import PROPERTY_ORDER

#: the papermill tag of the cell holding a notebook's parameters and their defaults
PARAMETERS_TAG = "parameters"
#: JSON schema types of Python literals and annotations (bool before int: True is an int)
_LITERAL_TYPES: tuple[tuple[type[Any], str], ...] = (
    (bool, "boolean"),
    (int, "integer"),
    (float, "number"),
    (str, "string"),
    (list, "array"),
    (tuple, "array"),
    (dict, "object"),
)
_ANNOTATION_TYPES = {"bool": "boolean", "int": "integer", "float": "number", "str": "string",
                     "list": "array", "dict": "object"}  # fmt: skip
_NO_DEFAULT = object()


@dataclasses.dataclass(frozen=True)
class Parameter:
    """One assignment of the parameters cell; ``default`` is ``_NO_DEFAULT`` when the value
    is an expression rather than a literal (then ``expression`` is its source)."""

    name: str
    type: str | None
    default: Any
    expression: str
    comment: str


def parameters_cell(notebook_text: str) -> str | None:
    """The source of the first code cell tagged ``parameters`` (None: no such cell)."""
    for cell in json.loads(notebook_text).get("cells", []):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") == "code" and PARAMETERS_TAG in tags:
            source = cell.get("source", "")
            return "".join(source) if isinstance(source, list) else str(source)
    return None


def read_parameters(source: str) -> list[Parameter]:
    """The top-level assignments of a parameters cell, in order. Lines IPython would run as
    magics or shell commands are skipped; a cell that is not Python gives no parameters."""
    lines = source.splitlines()
    python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in lines)
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return []
    found: list[Parameter] = []
    for node in tree.body:
        target, annotation = _target_of(node)
        value = getattr(node, "value", None)
        if target is None or value is None:
            continue
        expression = ast.get_source_segment(python, value) or ast.unparse(value)
        # a comment after the assignment (on its last line) describes the parameter
        after = lines[node.end_lineno - 1][node.end_col_offset :] if node.end_lineno else ""
        found.append(_parameter(target, annotation, value, expression, after))
    return found


def _target_of(node: ast.stmt) -> tuple[str | None, str | None]:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id, None) if isinstance(target, ast.Name) else (None, None)
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, ast.unparse(node.annotation)
    return None, None


def _parameter(
    name: str, annotation: str | None, value: ast.expr, expression: str, after: str
) -> Parameter:
    try:
        default: Any = ast.literal_eval(value)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        default = _NO_DEFAULT
    kind = _ANNOTATION_TYPES.get(annotation or "") or _literal_type(default)
    if isinstance(default, tuple):
        default = list(default)
    comment = after.split("#", 1)[1].strip() if "#" in after else ""
    return Parameter(name, kind, default, expression, comment)


def _literal_type(value: Any) -> str | None:
    for python_type, json_type in _LITERAL_TYPES:
        if isinstance(value, python_type):
            return json_type
    return None  # None, a set, bytes, an expression: any JSON value


def schema_of(
    notebook_text: str, declared: dict[str, Any], filled_by_parents: Iterable[str]
) -> dict[str, Any] | None:
    """The input schema of one notebook task: its parameters cell, with the defaults
    ``notebook_task(parameters=...)`` declares in place of the cell's, and without the
    parameters its parents' outputs fill. None when the notebook has no parameters cell."""
    source = parameters_cell(notebook_text)
    if source is None:
        return None
    skipped = set(filled_by_parents)
    properties: dict[str, Any] = {}
    for param in read_parameters(source):
        if param.name in skipped:
            continue
        properties[param.name] = _property(param, declared)
    return {"type": "object", "properties": properties, PROPERTY_ORDER: list(properties)}


def _property(param: Parameter, declared: dict[str, Any]) -> dict[str, Any]:
    prop: dict[str, Any] = {"title": param.name}
    if param.type is not None:
        prop["type"] = param.type
    default = declared.get(param.name, param.default)
    if default is not _NO_DEFAULT and default is not None and _is_json(default):
        prop["default"] = default
    described = param.comment or ("" if param.default is not _NO_DEFAULT else param.expression)
    if described:
        prop["description"] = described
    return prop


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False
    return True


def merged(schemas: Iterable[dict[str, Any] | None]) -> dict[str, Any] | None:
    """One workflow input from several notebook tasks' schemas (the first task that names a
    parameter gives its type and default); None when no task has a parameters cell."""
    properties: dict[str, Any] = {}
    found = False
    for schema in schemas:
        if schema is None:
            continue
        found = True
        for name, prop in schema["properties"].items():
            properties.setdefault(name, prop)
    if not found:
        return None
    return {"type": "object", "properties": properties, PROPERTY_ORDER: list(properties)}
