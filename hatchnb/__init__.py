"""hatchnb: a notebook-native workflow engine on PostgreSQL with hatchet_sdk v1's API."""

from __future__ import annotations

from hatchnb.client import Hatchet
from hatchnb.conditions import ParentCondition, SleepCondition, UserEventCondition, or_
from hatchnb.context import Context
from hatchnb.durable import DurableContext, NonDeterminismError
from hatchnb.errors import (
    CancelledRunError,
    FailedRunError,
    FailedTaskRunExceptionGroup,
    HatchnbError,
    NonRetryableException,
    TaskRunError,
)
from hatchnb.runs import RunStatus, V1TaskStatus, WorkflowRunRef
from hatchnb.triggers import BulkPushEventWithMetadata, PushEventOptions
from hatchnb.types import (
    EmptyModel,
    Priority,
    ScheduleTriggerWorkflowOptions,
    TaskDefaults,
    TriggerWorkflowOptions,
    WorkflowRunTriggerConfig,
)
from hatchnb.worker import Worker
from hatchnb.workflow import Standalone, Task, Workflow

__version__ = "0.1.0"

__all__ = [
    "BulkPushEventWithMetadata",
    "CancelledRunError",
    "Context",
    "DurableContext",
    "EmptyModel",
    "FailedRunError",
    "FailedTaskRunExceptionGroup",
    "Hatchet",
    "HatchnbError",
    "NonDeterminismError",
    "NonRetryableException",
    "ParentCondition",
    "Priority",
    "PushEventOptions",
    "RunStatus",
    "ScheduleTriggerWorkflowOptions",
    "SleepCondition",
    "Standalone",
    "Task",
    "TaskDefaults",
    "TaskRunError",
    "TriggerWorkflowOptions",
    "UserEventCondition",
    "V1TaskStatus",
    "Worker",
    "Workflow",
    "WorkflowRunRef",
    "WorkflowRunTriggerConfig",
    "__version__",
    "or_",
]
