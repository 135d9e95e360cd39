"""hatchnb: a notebook-native workflow engine on PostgreSQL with hatchet_sdk v1's API."""

from __future__ import annotations

from typing import Any

from hatchnb import sdk_paths
from hatchnb.client import Hatchet
from hatchnb.conditions import (
    Condition,
    OrGroup,
    ParentCondition,
    SleepCondition,
    UserEventCondition,
    or_,
)
from hatchnb.debounce import DebounceConfig
from hatchnb.dependencies import Depends
from hatchnb.errors import (
    BulkTriggerIdempotencyCollisionError,
    CancelledRunError,
    FailedRunError,
    FailedTaskRunExceptionGroup,
    HatchnbError,
    IdempotencyCollisionError,
    NonRetryableException,
    TaskRunError,
)
from hatchnb.features.cel import CELEvaluationResult, CELFailure, CELSuccess
from hatchnb.features.events import BulkPushEventWithMetadata, PushEventOptions
from hatchnb.features.runs import BulkCancelReplayOpts, RunFilter
from hatchnb.flow_control import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    DesiredWorkerLabel,
    RateLimit,
    RateLimitDuration,
    StickyStrategy,
    WorkerLabel,
    WorkerLabelComparator,
)
from hatchnb.idempotency import StatusBasedIdempotencyConfig, TTLBasedIdempotencyConfig
from hatchnb.notebook_tasks import output
from hatchnb.records import RunStatus, V1TaskEventType, V1TaskStatus
from hatchnb.results import TaskRunRef, WorkflowRunRef
from hatchnb.runtime.context import Context
from hatchnb.runtime.durable import DurableContext, NonDeterminismError
from hatchnb.runtime.worker import Worker
from hatchnb.types import (
    ClientConfig,
    DefaultFilter,
    EmptyModel,
    EvictionPolicy,
    Priority,
    ScheduleTriggerWorkflowOptions,
    TaskDefaults,
    TriggerWorkflowOptions,
    WorkflowRunTriggerConfig,
)
from hatchnb.webhook_types import (
    V1WebhookHMACAlgorithm,
    V1WebhookHMACEncoding,
    V1WebhookSourceName,
)
from hatchnb.workflow import Standalone, Task, Workflow

__version__ = "0.1.0"

sdk_paths.install()  # hatchet_sdk's submodule paths: hatchnb.runnables.types, ...

__all__ = [
    "BulkCancelReplayOpts",
    "BulkPushEventWithMetadata",
    "BulkTriggerIdempotencyCollisionError",
    "CELEvaluationResult",
    "CELFailure",
    "CELSuccess",
    "CancelledRunError",
    "ClientConfig",
    "ConcurrencyExpression",
    "ConcurrencyLimitStrategy",
    "Condition",
    "Context",
    "DebounceConfig",
    "DefaultFilter",
    "Depends",
    "DesiredWorkerLabel",
    "DurableContext",
    "EmptyModel",
    "EvictionPolicy",
    "FailedRunError",
    "FailedTaskRunExceptionGroup",
    "Hatchet",
    "HatchnbError",
    "IdempotencyCollisionError",
    "NonDeterminismError",
    "NonRetryableException",
    "OrGroup",
    "ParentCondition",
    "Priority",
    "PushEventOptions",
    "RateLimit",
    "RateLimitDuration",
    "RunFilter",
    "RunStatus",
    "ScheduleTriggerWorkflowOptions",
    "SleepCondition",
    "Standalone",
    "StatusBasedIdempotencyConfig",
    "StickyStrategy",
    "TTLBasedIdempotencyConfig",
    "Task",
    "TaskDefaults",
    "TaskRunError",
    "TaskRunRef",
    "TriggerWorkflowOptions",
    "UserEventCondition",
    "V1TaskEventType",
    "V1TaskStatus",
    "V1WebhookHMACAlgorithm",
    "V1WebhookHMACEncoding",
    "V1WebhookSourceName",
    "Worker",
    "WorkerLabel",
    "WorkerLabelComparator",
    "Workflow",
    "WorkflowRunRef",
    "WorkflowRunTriggerConfig",
    "__version__",
    "or_",
    "output",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hatchnb``: the ``%hatchet`` magic (IPython is imported only now)."""
    from hatchnb.notebook.magics import HatchetMagics

    ipython.register_magics(HatchetMagics)


def unload_ipython_extension(ipython: Any) -> None:
    magics = ipython.magics_manager.registry.get("HatchetMagics")
    if magics is not None and magics.worker is not None and magics.worker.running:
        magics.worker.stop(timeout=30)
    for kind in ("line", "cell"):
        ipython.magics_manager.magics[kind].pop("hatchet", None)
