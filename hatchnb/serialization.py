"""Values in and out of Postgres: JSON for inputs and outputs, cloudpickle for code and for
outputs JSON cannot hold."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import cloudpickle
from pydantic import BaseModel, TypeAdapter, ValidationError

from hatchnb import errors
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
        value = {}
    if validator in _PLAIN_DICT and isinstance(value, dict):
        return _check_size(_dumps_input(value), limit, "input")
    try:
        if not isinstance(value, validator):
            value = _adapter(validator).validate_python(_plain(value))
        text = _adapter(validator).dump_json(value).decode()
    except ValidationError as exc:
        raise errors.InvalidInput(f"input does not match {validator.__name__}: {exc}") from None
    return _check_size(text, limit, "input")


def _dumps_input(value: dict[str, Any]) -> str:
    try:
        return json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise errors.InvalidInput(f"the input is not JSON-serializable: {exc}") from None


def load_input(data: Any, validator: type[Any]) -> Any:
    if validator is dict:
        return data
    return _adapter(validator).validate_python(data)


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
        text = json.dumps(_jsonable(value), allow_nan=False)
    except (TypeError, ValueError):
        preview, blob = _dump_blob(value, blob_limit)
        return preview, _SIGNED + bytes.fromhex(sign(blob, key) or "") + blob if key else blob
    return _check_size(text, json_limit, "task output"), None


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _adapter(type(value)).dump_python(value, mode="json")
    return value


def _dump_blob(value: Any, limit: int) -> tuple[str, bytes]:
    try:
        blob = cloudpickle.dumps(value)
    except Exception as exc:
        raise errors.SerializationError(
            f"the task output of type {type(value).__name__} is neither JSON nor picklable "
            f"({exc}); return plain data instead"
        ) from None
    if len(blob) > limit:
        raise errors.PayloadTooLarge(
            f"the pickled task output is {len(blob)} bytes, over the {limit}-byte limit; return "
            "a smaller value or raise HATCHNB_MAX_BLOB_BYTES"
        )
    preview = {"$pickled": type(value).__qualname__, "repr": repr(value)[:500]}
    return json.dumps(preview), blob


#: marks a pickled output that carries an HMAC-SHA256 (32 bytes) before the pickle
_SIGNED = b"HNBS"


def load_output(output: Any, blob: bytes | None, key: str | None = None) -> Any:
    """The stored output; with a signing key, a pickled one is unpickled only if signed."""
    if blob is None:
        return output
    signed = blob.startswith(_SIGNED)
    body = blob[len(_SIGNED) + 32 :] if signed else blob
    if key:
        mac = blob[len(_SIGNED) : len(_SIGNED) + 32].hex() if signed else None
        if mac is None or not hmac.compare_digest(mac, sign(body, key) or ""):
            raise errors.SerializationError(
                "a pickled task output is unsigned or does not match HATCHNB_SIGNING_KEY; "
                "it was not unpickled"
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
    meta_json = json.dumps(meta) if meta else "{}"
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


def pickle_code(code: WorkflowCode) -> bytes:
    """Pickle task functions; code outside installed packages travels by value."""
    objects = [*code.functions.values(), code.input_validator]
    try:
        with _by_value(objects):
            return bytes(cloudpickle.dumps(code))
    except Exception as exc:
        raise errors.SerializationError(
            f"cannot pickle the workflow's code: {exc}. Task functions must not capture "
            "open connections, sockets, locks or files; create those inside the task"
        ) from None


def sign(blob: bytes, key: str | None) -> str | None:
    """HMAC-SHA256 of pickled code, or None without a key."""
    return hmac.new(key.encode(), blob, hashlib.sha256).hexdigest() if key else None


def check_signature(blob: bytes, signature: str | None, key: str | None, version_id: int) -> None:
    """A worker with a key only unpickles code signed with that key."""
    if not key:
        return
    if signature is None:
        raise errors.IncompatibleCode(
            f"workflow version {version_id} is not signed, and this worker has "
            "HATCHNB_SIGNING_KEY set: register the workflow from a client with the same key"
        )
    if not hmac.compare_digest(signature, sign(blob, key) or ""):
        raise errors.IncompatibleCode(
            f"workflow version {version_id} has a signature that does not match its code "
            "under this worker's HATCHNB_SIGNING_KEY: the code was changed or signed with "
            "another key; it was not run"
        )


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
