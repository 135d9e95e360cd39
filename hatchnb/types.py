"""Declaration and trigger option types, named as in hatchet_sdk v1."""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from enum import IntEnum
from typing import Any, overload

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator

#: Hatchet's defaults
DEFAULT_SCHEDULE_TIMEOUT = timedelta(minutes=5)
DEFAULT_EXECUTION_TIMEOUT = timedelta(seconds=60)


class EmptyModel(BaseModel):
    """The input type of workflows that take no input; extra keys are kept."""

    model_config = ConfigDict(extra="allow")


class Priority(IntEnum):
    #: the default priority of runs
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class TaskDefaults(BaseModel):
    """Defaults applied to every task of a workflow unless the task sets its own."""

    schedule_timeout: timedelta | str = DEFAULT_SCHEDULE_TIMEOUT
    execution_timeout: timedelta | str = DEFAULT_EXECUTION_TIMEOUT
    priority: int = Field(default=Priority.LOW, ge=1, le=3)
    retries: int = Field(default=0, ge=0)
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None


class TriggerWorkflowOptions(BaseModel):
    """Options of one triggered run."""

    parent_id: str | None = None
    parent_step_run_id: str | None = None
    child_index: int | None = None
    child_key: str | None = None
    additional_metadata: dict[str, Any] = Field(default_factory=dict)
    desired_worker_id: str | None = None
    desired_worker_labels: Any = None
    namespace: str | None = None
    sticky: bool = False
    key: str | None = None
    priority: int | None = Field(default=None, ge=1, le=3)


class ScheduleTriggerWorkflowOptions(TriggerWorkflowOptions):
    """Options of a scheduled run."""


class WorkflowRunTriggerConfig(BaseModel):
    """One item of ``run_many``, built by ``Workflow.create_bulk_run_item``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    workflow_name: str
    input: Any = None
    options: TriggerWorkflowOptions = Field(default_factory=TriggerWorkflowOptions)
    key: str | None = None
    #: the workflow that built the item: run_many runs it as that workflow even where the
    #: client has not declared it by name (code unpickled on a worker)
    _workflow: Any = PrivateAttr(default=None)


def to_timedelta(value: timedelta | str | int | float, what: str) -> timedelta:
    """Accept Hatchet's duration forms: timedelta, seconds, or strings like '30s', '5m', '1h'."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    text = value.strip().lower()
    for suffix in sorted(units, key=len, reverse=True):
        number = text.removesuffix(suffix)
        if number != text:
            try:
                return timedelta(seconds=float(number) * units[suffix])
            except ValueError:
                break
    raise ValueError(f"{what}={value!r} is not a duration; use a timedelta or a string like '30s'")


def namespaced(namespace: str, name: str) -> str:
    """``name`` in ``namespace`` (hatchet_sdk's rule: a name already in it stays as it is;
    what is not a string is left for the caller's check to refuse)."""
    if not namespace or not isinstance(name, str) or name.startswith(namespace):
        return name
    return namespace + name


#: hatchet_sdk's ``tenant_id`` where none is configured (hatchnb has one tenant per database)
DEFAULT_TENANT_ID = "00000000-0000-0000-0000-000000000000"


class ClientConfig(BaseModel):
    """hatchet_sdk's client settings, as far as they mean something without a Hatchet server:
    ``logger``, ``debug`` and ``namespace`` (default ``HATCHET_CLIENT_NAMESPACE``: it
    prefixes workflow, worker and event key names, lower-cased and ending in ``_``, as in
    hatchet_sdk). ``server_url`` (default ``HATCHET_CLIENT_SERVER_URL``) is the address of
    hatchnb's HTTP server (``hatchnb server`` / ``hatchnb api``), which webhook senders call;
    ``tenant_id`` (default ``HATCHET_CLIENT_TENANT_ID``, else the nil UUID) is only echoed
    back, as hatchnb has one tenant per database. The gRPC settings (``token``,
    ``host_port``) do not apply: hatchnb connects to PostgreSQL (``HATCHNB_DATABASE_URL`` or
    ``Hatchet(dsn=...)``), so giving them is refused rather than ignored."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    logger: logging.Logger = Field(default_factory=lambda: logging.getLogger("hatchnb"))
    debug: bool = False
    namespace: str = Field(
        default_factory=lambda: os.environ.get("HATCHET_CLIENT_NAMESPACE", ""),
        validate_default=True,
    )
    token: str = ""
    tenant_id: str = Field(
        default_factory=lambda: os.environ.get("HATCHET_CLIENT_TENANT_ID") or DEFAULT_TENANT_ID
    )
    server_url: str = Field(
        default_factory=lambda: os.environ.get("HATCHET_CLIENT_SERVER_URL", ""),
        validate_default=True,
    )
    host_port: str = ""

    @field_validator("namespace")
    @classmethod
    def _normalized(cls, namespace: str) -> str:
        if not namespace:
            return ""
        return (namespace if namespace.endswith("_") else f"{namespace}_").lower()

    @field_validator("server_url")
    @classmethod
    def _http_address(cls, server_url: str) -> str:
        if server_url and not server_url.startswith(("http://", "https://")):
            raise ValueError(
                f"server_url={server_url!r}: give the http(s):// address of hatchnb's HTTP "
                "server (hatchnb server / hatchnb api), e.g. http://127.0.0.1:8080"
            )
        return server_url.rstrip("/")

    def model_post_init(self, context: Any) -> None:
        grpc_settings = ("token", "host_port")
        given = [name for name in grpc_settings if getattr(self, name)]
        if given:
            raise NotImplementedError(
                f"ClientConfig({', '.join(given)}=...): hatchnb has no Hatchet gRPC server to "
                "reach; it connects to PostgreSQL (HATCHNB_DATABASE_URL or Hatchet(dsn=...))"
            )

    @overload
    def apply_namespace(self, resource_name: str, namespace_override: str | None = None) -> str: ...

    @overload
    def apply_namespace(
        self, resource_name: None, namespace_override: str | None = None
    ) -> None: ...

    def apply_namespace(
        self, resource_name: str | None, namespace_override: str | None = None
    ) -> str | None:
        """``resource_name`` in this client's namespace (or ``namespace_override``)."""
        if resource_name is None:
            return None
        return namespaced(namespace_override or self.namespace, resource_name)


class DefaultFilter(BaseModel):
    """An event filter a workflow declares (``default_filters=``): created when the workflow
    is registered, unless one with the same expression and scope exists."""

    expression: str
    scope: str
    payload: dict[str, Any] = Field(default_factory=dict)


class EvictionPolicy(BaseModel):
    """When a waiting durable task gives its worker slot back (hatchet_sdk's policy):
    after ``ttl`` of continuous waiting (``None``: never). hatchnb evicts by time only, so
    ``allow_capacity_eviction`` and ``priority`` (which rank evictions under slot pressure)
    change nothing here."""

    model_config = ConfigDict(frozen=True)

    ttl: timedelta | None
    allow_capacity_eviction: bool = True
    priority: int = 0


class UpdateWorkerRequest(BaseModel):
    """What ``hatchet.workers.update`` changes (hatchet_sdk's UpdateWorkerRequest); None
    keeps the worker as it is."""

    is_paused: bool | None = None


class UpdateFilterRequest(BaseModel):
    """What ``hatchet.filters.update`` changes (hatchet_sdk's V1UpdateFilterRequest); a
    field left None keeps its value."""

    expression: str | None = None
    scope: str | None = None
    payload: dict[str, Any] | None = None
