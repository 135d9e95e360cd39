"""Values in and out of Postgres: JSON for inputs and outputs, cloudpickle for code and for
outputs JSON cannot hold."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib
import importlib.util
import io
import json
import re
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

import cloudpickle
from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from hatchnb import errors, limits, signing
from hatchnb.serde import SERIALIZATION_CONTEXT
from hatchnb.types import EmptyModel

PYTHON_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
#: validators that accept any JSON object as it is
_PLAIN_DICT: tuple[type[Any], ...] = (EmptyModel, dict)


_adapters: dict[Any, TypeAdapter[Any]] = {}


def _adapter(validator: Any) -> TypeAdapter[Any]:
    adapter = _adapters.get(validator)
    if adapter is None:
        adapter = _adapters[validator] = TypeAdapter(validator)
    return adapter


def dump_input(value: Any, validator: type[Any], limit: int) -> str:
    """Validate a run input against the workflow's validator and encode it as JSON."""
    if value is None:
        if validator in _PLAIN_DICT:
            return "{}"  # the common no-input trigger: nothing to validate or encode
        value = {}
    if validator in _PLAIN_DICT and isinstance(value, dict):
        return _check_size(_dumps_json(value, "input"), limit, "input")
    try:
        if not isinstance(value, validator):
            value = _adapter(validator).validate_python(_plain(value))
        text = _adapter(validator).dump_json(value, context=SERIALIZATION_CONTEXT).decode()
    except ValidationError as exc:
        raise errors.InvalidInput(
            f"the input does not match {validator.__name__}: pass an input whose fields "
            f"validate, or change input_validator=. {exc}"
        ) from None
    except PydanticSerializationError as exc:
        raise errors.InvalidInput(f"{_NOT_JSON.format(what='input')} ({exc})") from None
    return _check_size(_check_storable(text, "input"), limit, "input")


def input_json_schema(validator: type[Any]) -> dict[str, Any] | None:
    """The JSON schema of a workflow's input (stored with its version, so callers without
    the code, such as the HTTP API, can check an input); None when any object is taken or
    the validator has no JSON schema (the worker still checks the input)."""
    if validator in _PLAIN_DICT:
        return None
    try:
        schema: dict[str, Any] = _adapter(validator).json_schema(mode="validation")
    except Exception:  # a type pydantic cannot describe (arbitrary classes, callables)
        return None
    if isinstance(schema.get("properties"), dict):  # jsonb keeps no key order: forms need it
        schema[PROPERTY_ORDER] = list(schema["properties"])
    return schema


#: the declared order of an input schema's properties (a JSON schema annotation)
PROPERTY_ORDER = "x-property-order"


_NOT_JSON = (
    "the {what} is not JSON-serializable: pass only JSON types (dict with str keys, list, "
    "str, int, finite float, bool, None) and store other objects elsewhere, passing a reference"
)


#: json.dumps(..., allow_nan=False) builds an encoder at every call; bulk enqueue makes one
#: call per run
_STRICT_JSON = json.JSONEncoder(allow_nan=False)


def _dumps_json(value: Any, what: str) -> str:
    try:
        text = _STRICT_JSON.encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        raise errors.InvalidInput(f"{_NOT_JSON.format(what=what)} ({exc})") from None
    return _check_storable(text, what)


#: an escaped NUL in JSON text (an odd number of backslashes before u0000)
_ESCAPED_NUL = re.compile(r"(?<!\\)(?:\\\\)*\\u0000")


def _has_nul(text: str) -> bool:
    return "\\u0000" in text and _ESCAPED_NUL.search(text) is not None


#: an escaped lone surrogate in JSON text: a high half not followed by a low one, or a low
#: half not preceded by a high one (``json.dumps`` escapes what UTF-8 cannot encode)
_LONE_SURROGATE = re.compile(
    r"(?<!\\)(?:\\\\)*(?:\\ud[89ab][0-9a-f]{2}(?!\\ud[c-f][0-9a-f]{2})"
    r"|(?<!\\ud[89ab][0-9a-f]{2})\\ud[c-f][0-9a-f]{2})",
    re.IGNORECASE,
)


def _check_storable(text: str, what: str) -> str:
    """JSON text as PostgreSQL's ``jsonb`` takes it: no NUL, no lone surrogate."""
    if _has_nul(text):
        raise errors.InvalidInput(
            f"the {what} contains a NUL character (\\x00), which PostgreSQL cannot store; "
            "remove it, or encode binary data (e.g. base64) before passing it"
        )
    if "\\u" in text and _LONE_SURROGATE.search(text):
        raise errors.InvalidInput(
            f"the {what} contains a lone surrogate (half of a UTF-16 pair, such as '\\ud800'), "
            "which PostgreSQL cannot store; decode the text with errors='replace' or remove it"
        )
    return text


def dump_json(value: Any, what: str, limit: int) -> str:
    """Any JSON value (event payloads, filter payloads) under the payload size limit."""
    return _check_size(_dumps_json(value, what), limit, what)


def dump_metadata(meta: Any) -> str:
    """``additional_metadata`` as JSON: a dict with string keys holding JSON values."""
    if not meta:
        return "{}"
    if not isinstance(meta, dict) or not all(isinstance(k, str) for k in meta):
        raise errors.InvalidInput(
            f"additional_metadata={limits.shown(meta)}: pass a dict with string keys, "
            "e.g. {'team': 'ml'}"
        )
    text = _dumps_json(meta, "additional_metadata")
    if len(text) > limits.MAX_METADATA_BYTES:
        raise errors.InvalidInput(
            f"the additional_metadata is {len(text):,} bytes as JSON, over the "
            f"{limits.MAX_METADATA_BYTES:,}-byte limit; keep metadata to short keys and "
            "values (ids, tags) and pass data in the input"
        )
    return text


def check_text(
    value: Any, what: str, error: type[errors.HatchnbError] = errors.InvalidInput
) -> str:
    """A name or key stored as text (see ``limits.check_name``)."""
    return limits.check_name(value, what, error)


def load_input(data: Any, validator: type[Any]) -> Any:
    """The stored input as the task receives it; a mismatch fails the task without retries
    (events, and crons or schedules created by workflow name, are not checked earlier)."""
    if validator is dict:
        return data
    try:
        return _adapter(validator).validate_python(data, context=SERIALIZATION_CONTEXT)
    except ValidationError as exc:
        raise errors.InvalidInput(
            f"the run input does not match {validator.__name__}; it was not checked when the "
            "run started (an event payload, or a cron or schedule created by workflow name): "
            f"send data that matches the task's input_validator. {exc}"
        ) from None


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    return value


def _check_size(text: str, limit: int, what: str) -> str:
    if len(text) * 4 <= limit:  # no UTF-8 character takes more than 4 bytes
        return text
    size = len(text.encode())
    if size > limit:
        raise errors.PayloadTooLarge(
            f"the {what} is {size} bytes, over the {limit}-byte limit; pass a smaller value "
            "(store large data elsewhere and pass a reference) or raise HATCHNB_MAX_PAYLOAD_BYTES"
        )
    return text


def dump_output(
    value: Any, json_limit: int, blob_limit: int, key: str | None = None
) -> tuple[str, bytes | None]:
    """Encode a task's return value: JSON when possible, else a pickled blob plus a preview
    (signed when a signing key is set)."""
    try:
        text: str | None = json.dumps(_jsonable(value), allow_nan=False, default=_nested_model)
    except (TypeError, ValueError, RecursionError):
        text = None
    # strings with NUL characters are valid JSON that PostgreSQL's jsonb cannot store
    if text is None or _has_nul(text):
        preview, blob = _dump_blob(value, blob_limit)
        return preview, _SIGNED + bytes.fromhex(signing.mac(key, blob)) + blob if key else blob
    return _check_size(text, json_limit, "task output"), None


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", context=SERIALIZATION_CONTEXT)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json", context=SERIALIZATION_CONTEXT)
    return value


def _nested_model(value: Any) -> Any:
    """Models and dataclasses inside a returned dict become JSON as hatchet_sdk's output
    validator makes them; anything else non-JSON makes the output a pickle."""
    if isinstance(value, BaseModel) or (
        dataclasses.is_dataclass(value) and not isinstance(value, type)
    ):
        return _jsonable(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _dump_blob(value: Any, limit: int) -> tuple[str, bytes]:
    try:
        blob = cloudpickle.dumps(value)
    except Exception as exc:
        raise errors.SerializationError(
            f"the task output of type {type(value).__name__} is neither JSON nor picklable "
            f"({exc}); return plain data instead (a dict, list, str, number, pydantic model or "
            "dataclass) or a picklable object, and keep connections, sockets and files inside "
            "the task"
        ) from None
    if len(blob) > limit:
        raise errors.PayloadTooLarge(
            f"the pickled task output is {len(blob)} bytes, over the {limit}-byte limit; return "
            "a smaller value or raise HATCHNB_MAX_BLOB_BYTES"
        )
    preview = {"$pickled": type(value).__qualname__, "repr": repr(value)[:500].replace("\x00", "")}
    return json.dumps(preview), blob


#: marks a pickled output that carries an HMAC-SHA256 (32 bytes) before the pickle
_SIGNED = b"HNBS"


def load_output(
    output: Any, blob: bytes | None, key: str | signing.SigningKeys | None = None
) -> Any:
    """The stored output; with a signing key, a pickled one is unpickled only if signed (by
    the key or, during a rotation, one of HATCHNB_SIGNING_KEY_PREVIOUS)."""
    if blob is None:
        return output
    keys = signing.SigningKeys.of(key)
    signed = blob.startswith(_SIGNED)
    body = blob[len(_SIGNED) + 32 :] if signed else blob
    if keys.verifying():
        mac = blob[len(_SIGNED) : len(_SIGNED) + 32].hex() if signed else None
        if mac is None or not signing.matches(mac, body, keys):
            raise errors.SerializationError(
                "a pickled task output is unsigned or does not match HATCHNB_SIGNING_KEY "
                "(or HATCHNB_SIGNING_KEY_PREVIOUS); it was not unpickled"
            )
    return cloudpickle.loads(body)


def run_row(
    run_id: Any,
    position: int,
    input_json: str,
    meta: dict[str, Any] | None,
    priority: int,
    parent_json: str = "null",
    child_key: str | None = None,
    trigger: dict[str, Any] | None = None,
) -> str:
    """One element of ``insert_runs``' JSON array, built by hand: for bulk enqueue this is the
    hot loop. ``trigger`` holds optional triggered_by / event_id / filter_payload and flow
    control (fc / sticky / sticky_worker)."""
    limits.check_priority(priority)
    meta_json = dump_metadata(meta)
    key_json = "null" if child_key is None else json.dumps(child_key)
    extra = "," + json.dumps(trigger)[1:-1] if trigger else ""
    return (
        f'{{"id":"{run_id}","ord":{position},"priority":{priority},"parent":{parent_json},'
        f'"child_key":{key_json},"meta":{meta_json},"input":{input_json}{extra}}}'
    )


# ---- code ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class WorkflowCode:
    """What a worker needs to run a workflow version's tasks."""

    #: task name -> function
    functions: dict[str, Callable[..., Any]]
    input_validator: type[Any]
    #: names of the durable tasks (they get a DurableContext)
    durable: frozenset[str] = frozenset()
    #: durable task name -> seconds of waiting before it is evicted (None: never), for the
    #: tasks that declare an EvictionPolicy (the others use HATCHNB_DURABLE_EVICT_AFTER)
    eviction: dict[str, float | None] = dataclasses.field(default_factory=dict)
    #: batch task name -> its BatchTaskConfig (they get {BatchMemberId: input})
    batches: dict[str, Any] = dataclasses.field(default_factory=dict)
    #: durable task name -> its EvictionPolicy's priority when a worker may evict it to free
    #: a durable slot, None when it may not (absent: the default policy, priority 0)
    capacity: dict[str, int | None] = dataclasses.field(default_factory=dict)

    def batch_of(self, task_name: str) -> Any:
        """The task's BatchTaskConfig, or None when it is not a batch task."""
        return getattr(self, "batches", {}).get(task_name)  # code pickled before batches

    def capacity_priority(self, task_name: str) -> int | None:
        """The task's priority for capacity eviction (None: never evicted for capacity)."""
        priorities: dict[str, int | None] = getattr(self, "capacity", {})  # older pickles
        return priorities.get(task_name, 0)

    def evict_after(self, task_name: str, default: float) -> float:
        """Seconds a durable task waits before it is evicted (infinite: never)."""
        policies = getattr(self, "eviction", {})  # code pickled before policies existed
        if task_name not in policies:
            return default
        seconds = policies[task_name]
        return float("inf") if seconds is None else seconds


def _installed_prefixes() -> tuple[str, ...]:
    paths = sysconfig.get_paths()
    return tuple(paths[k] for k in ("stdlib", "platstdlib", "purelib", "platlib") if k in paths)


def _ship_by_value(module: ModuleType) -> bool:
    """Modules that exist only on the client (a notebook, a script, a test file)."""
    name = module.__name__.split(".")[0]
    if name in ("__main__", "hatchnb") or name in sys.builtin_module_names:
        return False
    path = getattr(module, "__file__", None)
    return bool(path) and not str(path).startswith(_installed_prefixes())


@contextmanager
def _by_value(objects: list[Any]) -> Iterator[None]:
    modules = {sys.modules.get(getattr(f, "__module__", "") or "") for f in objects}
    chosen = [m for m in modules if m is not None and _ship_by_value(m)]
    for module in chosen:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in chosen:
            cloudpickle.unregister_pickle_by_value(module)


#: id -> (module, attribute) of process-wide objects task code may refer to; they travel by
#: reference, so the worker's code uses the worker's own (a copy would be cut off from it)
_BY_REFERENCE: dict[int, tuple[str, str]] = {}


def pickle_by_reference(obj: object, module: str, attribute: str) -> None:
    """Ship ``obj`` (a module-level singleton of hatchnb's) as ``module.attribute``."""
    _BY_REFERENCE[id(obj)] = (module, attribute)


def module_attribute(module: str, attribute: str) -> Any:
    """``module.attribute`` as the worker's own import of the module has it."""
    return getattr(importlib.import_module(module), attribute)


class _CodePickler(cloudpickle.Pickler):  # type: ignore[misc]  # cloudpickle is untyped
    """cloudpickle, keeping ``dataclasses.MISSING`` the one sentinel (a dataclass shipped by
    value would otherwise come back with fresh copies of it as its fields' defaults, which
    the receiving dataclasses and pydantic take for real defaults), and hatchnb's
    process-wide objects (``pickle_by_reference``) and the ``imported`` module globals by
    reference."""

    def __init__(self, file: io.BytesIO, imported: dict[int, tuple[str, str]]) -> None:
        super().__init__(file)
        self._imported = imported

    def reducer_override(self, obj: Any) -> Any:
        if obj is dataclasses.MISSING:
            return getattr, (dataclasses, "MISSING")
        reference = _BY_REFERENCE.get(id(obj))
        if reference is not None:
            return getattr, (importlib.import_module(reference[0]), reference[1])
        imported = self._imported.get(id(obj))
        if imported is not None:
            return module_attribute, imported
        return super().reducer_override(obj)


def _dumps_code(code: WorkflowCode, imported: dict[int, tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    _CodePickler(buffer, imported).dump(code)
    return buffer.getvalue()


def pickle_code(code: WorkflowCode, workflow_name: str = "") -> bytes:
    """Pickle task functions; code outside installed packages travels by value, except the
    module-level objects of an importable module that cannot be pickled (a boto3 client, a
    connection pool made at import): the worker takes its own from its import of the module,
    as a Hatchet worker, which imports the module, does."""
    objects = [*code.functions.values(), code.input_validator]
    with _by_value(objects):
        try:
            return _dumps_code(code, {})
        except Exception as exc:
            culprit = _unpicklable_part(code) or str(exc)
        imported = _unpicklable_module_globals(code)
        if imported:
            with contextlib.suppress(Exception):
                return _dumps_code(code, imported)
    raise errors.SerializationError(
        f"cannot pickle the code of workflow {workflow_name!r}: {culprit}. Task functions must "
        "not capture open connections, sockets, locks or files; create those inside the task "
        "(capture what is needed to open them, such as a URL, instead)"
    )


def _unpicklable_part(code: WorkflowCode) -> str | None:
    """Which task, and which object it refers to, cannot be pickled."""
    for name, fn in code.functions.items():
        try:
            cloudpickle.dumps(fn)
        except Exception as exc:
            path = _unpicklable_path(fn, depth=3)
            if path is None:
                return f"task {name!r} cannot be pickled ({exc})"
            names, value, error = path
            return (
                f"task {name!r} refers to {' -> '.join(names)}, a "
                f"{type(value).__module__}.{type(value).__qualname__} ({error})"
            )
    return None


def _unpicklable_module_globals(code: WorkflowCode) -> dict[int, tuple[str, str]]:
    """``id -> (module, name)`` of the module globals the task functions use that cannot
    be pickled, in modules a worker can import by name (not a notebook or a REPL)."""
    found: dict[int, tuple[str, str]] = {}
    for fn in code.functions.values():
        module = sys.modules.get(getattr(fn, "__module__", "") or "")
        name = _import_name(module) if module is not None else None
        if name is None:
            continue
        namespace = getattr(fn, "__globals__", {})
        for var in _global_names(fn.__code__) if hasattr(fn, "__code__") else ():
            value = namespace.get(var)
            if value is None or id(value) in found or isinstance(value, ModuleType):
                continue
            try:
                cloudpickle.dumps(value)
            except Exception:
                found[id(value)] = (name, var)
    return found


def _import_name(module: ModuleType) -> str | None:
    """The name other processes import the module by: its own, or for a script run as
    ``__main__`` (``python examples/worker.py``) the most qualified name its file has on
    ``sys.path`` (``examples.worker``, not ``worker`` from the script's own directory).
    None for code with no file (a notebook, a REPL)."""
    path = getattr(module, "__file__", None)
    spec = getattr(module, "__spec__", None)
    if not path:
        return None
    if module.__name__ != "__main__":
        return module.__name__ if spec is not None and spec.name == module.__name__ else None
    if spec is not None and spec.name not in ("__main__", ""):
        return str(spec.name)  # python -m package.module
    return max(_names_on_path(Path(path).resolve()), key=lambda n: n.count("."), default=None)


def _names_on_path(path: Path) -> Iterator[str]:
    """Dotted names under which ``sys.path`` finds the file ``path``."""
    for entry in sys.path:
        with contextlib.suppress(ValueError, OSError):
            parts = path.with_suffix("").relative_to(Path(entry or ".").resolve()).parts
            name = ".".join(parts)
            if parts and all(p.isidentifier() for p in parts):
                with contextlib.suppress(ImportError, ValueError):
                    found = importlib.util.find_spec(name)
                    if found is not None and found.origin and Path(found.origin).resolve() == path:
                        yield name


def _unpicklable_path(fn: Any, depth: int) -> tuple[list[str], Any, Exception] | None:
    """The chain of captured names leading to an object cloudpickle refuses."""
    for var, value in _referenced(fn):
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            inner = _unpicklable_path(value, depth - 1) if depth > 1 else None
            if inner is not None:
                return [var, *inner[0]], inner[1], inner[2]
            return [var], value, exc
    return None


def _referenced(fn: Any) -> Iterator[tuple[str, Any]]:
    """Closure variables, defaults and module globals a function uses."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    cells = getattr(fn, "__closure__", None) or ()
    for var, cell in zip(code.co_freevars, cells, strict=False):
        with contextlib.suppress(ValueError):  # an empty cell
            yield var, cell.cell_contents
    for index, default in enumerate(getattr(fn, "__defaults__", None) or ()):
        yield f"default #{index + 1}", default
    namespace = getattr(fn, "__globals__", {})
    for var in _global_names(code):
        if var in namespace:
            yield var, namespace[var]


def _global_names(code: CodeType) -> Iterator[str]:
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _global_names(const)


def load_code(blob: bytes, python_version: str, version_id: int) -> WorkflowCode:
    if python_version != PYTHON_VERSION:
        raise errors.IncompatibleCode(
            f"workflow version {version_id} was registered from Python {python_version}, but "
            f"this worker runs Python {PYTHON_VERSION}; run the task on a worker with Python "
            f"{python_version}"
        )
    try:
        code = cloudpickle.loads(blob)
    except ModuleNotFoundError as exc:
        raise errors.IncompatibleCode(
            f"workflow version {version_id} needs the module {exc.name!r}, which this worker "
            f"cannot import; install it on the worker (pip install {exc.name})"
        ) from None
    except Exception as exc:
        raise errors.IncompatibleCode(
            f"workflow version {version_id} cannot be loaded on this worker: {exc!r}"
        ) from None
    if not isinstance(code, WorkflowCode):
        raise errors.IncompatibleCode(f"workflow version {version_id} holds no task code")
    return code


def content_hash(code: bytes, spec: dict[str, Any]) -> str:
    digest = hashlib.sha256(code)
    digest.update(json.dumps(spec, sort_keys=True).encode())
    return digest.hexdigest()
