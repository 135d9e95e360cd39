"""Declaration and trigger option types, named as in hatchet_sdk v1."""

from __future__ import annotations

import logging
from datetime import timedelta
from enum import IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

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
    #: the declaration that built the item: it is run as that workflow, whichever
    #: workflow's run_many it is passed to (as in hatchet_sdk)
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


class ClientConfig(BaseModel):
    """hatchet_sdk's client settings, as far as they mean something without a Hatchet server:
    ``logger`` and ``debug`` are used; ``namespace`` prefixes nothing yet, so only the empty
    namespace is taken. Connection settings (``token``, ``server_url``, ``host_port``,
    ``tenant_id``, TLS) do not apply: hatchnb connects to PostgreSQL (``HATCHNB_DATABASE_URL``
    or ``Hatchet(dsn=...)``), so giving them is refused rather than ignored."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    logger: logging.Logger = Field(default_factory=lambda: logging.getLogger("hatchnb"))
    debug: bool = False
    namespace: str = ""
    token: str = ""
    tenant_id: str = ""
    server_url: str = ""
    host_port: str = ""

    def model_post_init(self, context: Any) -> None:
        server_settings = ("token", "tenant_id", "server_url", "host_port")
        given = [name for name in server_settings if getattr(self, name)]
        if given:
            raise NotImplementedError(
                f"ClientConfig({', '.join(given)}=...): hatchnb has no Hatchet server to reach; "
                "it connects to PostgreSQL (HATCHNB_DATABASE_URL or Hatchet(dsn=...))"
            )
        if self.namespace:
            raise NotImplementedError(
                "ClientConfig(namespace=...) is not supported by this hatchnb version yet: "
                "use a separate database (or schema) per environment instead"
            )

    def apply_namespace(self, name: str) -> str:
        """``name`` in this client's namespace (hatchnb's namespace is always empty)."""
        return self.namespace + name


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


class UpdateFilterRequest(BaseModel):
    """What ``hatchet.filters.update`` changes (hatchet_sdk's V1UpdateFilterRequest); a
    field left None keeps its value."""

    expression: str | None = None
    scope: str | None = None
    payload: dict[str, Any] | None = None
