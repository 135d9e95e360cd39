"""Run inputs checked against the JSON schema stored with the workflow's registered
version (``spec["input_schema"]``), so a caller without the code gets a 422 that names the
field instead of a run that fails on the worker."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from hatchnb import errors

#: problems listed in one error message at most
SHOWN = 5


@functools.lru_cache(maxsize=256)
def _validator(version_id: int, schema_text: str) -> Draft202012Validator | None:
    schema = json.loads(schema_text)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError:  # a schema pydantic wrote that jsonschema cannot use: the worker checks
        return None
    return Draft202012Validator(schema)


def check_input(
    workflow_name: str, version_id: int, schema: dict[str, Any] | None, value: Any
) -> None:
    """``errors.InvalidInput`` listing where ``value`` breaks the schema (None: any object)."""
    if schema is None:
        return
    validator = _validator(version_id, json.dumps(schema, sort_keys=True))
    if validator is None:
        return
    problems = sorted(validator.iter_errors(value), key=lambda e: list(e.absolute_path))
    if not problems:
        return
    described = [f"{_where(p.absolute_path)}: {p.message}" for p in problems[:SHOWN]]
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    raise errors.InvalidInput(
        f"the input does not match the input schema of workflow {workflow_name!r} "
        f"(GET /api/v1/workflows shows it): {'; '.join(described)}{more}"
    )


def _where(path: Any) -> str:
    return "input" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in path)
