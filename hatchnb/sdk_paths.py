"""hatchet_sdk's submodule paths under ``hatchnb``: ``from hatchnb.runnables.types import
EmptyModel`` works as ``from hatchet_sdk.runnables.types import EmptyModel`` does, without
those paths dictating hatchnb's own layout. Each alias module is built on first import from
the table below; a name hatchnb does not have is simply absent (an ImportError naming it).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
from collections.abc import Sequence

#: alias module -> {name: "hatchnb.module:attribute"}
ALIASES: dict[str, dict[str, str]] = {
    "hatchnb.hatchet": {"Hatchet": "hatchnb.client:Hatchet"},
    "hatchnb.runnables": {},
    "hatchnb.runnables.types": {
        "EmptyModel": "hatchnb.types:EmptyModel",
        "TaskDefaults": "hatchnb.types:TaskDefaults",
        "WorkflowRunTriggerConfig": "hatchnb.types:WorkflowRunTriggerConfig",
        "ConcurrencyExpression": "hatchnb.flow_control:ConcurrencyExpression",
        "DefaultFilter": "hatchnb.types:DefaultFilter",
        "ConcurrencyLimitStrategy": "hatchnb.flow_control:ConcurrencyLimitStrategy",
        "StickyStrategy": "hatchnb.flow_control:StickyStrategy",
        "BatchMemberId": "hatchnb.batching:BatchMemberId",
        "BatchTaskConfig": "hatchnb.batching:BatchTaskConfig",
    },
    "hatchnb.runnables.workflow": {
        "Workflow": "hatchnb.workflow:Workflow",
        "BaseWorkflow": "hatchnb.workflow:Workflow",
        "Standalone": "hatchnb.workflow:Standalone",
        "TaskRunRef": "hatchnb.results:TaskRunRef",
    },
    "hatchnb.runnables.contextvars": {
        "ctx_action_key": "hatchnb.runtime.durable:ctx_action_key",
        "workflow_spawn_indices": "hatchnb.runtime.durable:workflow_spawn_indices",
    },
    "hatchnb.runnables.eviction": {"EvictionPolicy": "hatchnb.types:EvictionPolicy"},
    "hatchnb.runnables.task": {
        "Task": "hatchnb.workflow:Task",
        "Depends": "hatchnb.dependencies:Depends",
    },
    "hatchnb.labels": {
        "DesiredWorkerLabel": "hatchnb.flow_control:DesiredWorkerLabel",
        "WorkerLabel": "hatchnb.flow_control:WorkerLabel",
        "WorkerLabelComparator": "hatchnb.flow_control:WorkerLabelComparator",
    },
    "hatchnb.rate_limit": {
        "RateLimit": "hatchnb.flow_control:RateLimit",
        "RateLimitDuration": "hatchnb.flow_control:RateLimitDuration",
    },
    "hatchnb.exceptions": {
        "NonRetryableException": "hatchnb.errors:NonRetryableException",
        "TaskRunError": "hatchnb.errors:TaskRunError",
        "FailedTaskRunExceptionGroup": "hatchnb.errors:FailedTaskRunExceptionGroup",
        "NonDeterminismError": "hatchnb.runtime.durable:NonDeterminismError",
        "IdempotencyCollisionError": "hatchnb.errors:IdempotencyCollisionError",
        "DedupeViolationError": "hatchnb.errors:DedupeViolationError",
        "BulkTriggerIdempotencyCollisionError": (
            "hatchnb.errors:BulkTriggerIdempotencyCollisionError"
        ),
    },
    "hatchnb.engine_version": {"MinEngineVersion": "hatchnb.engine_compat:MinEngineVersion"},
    "hatchnb.deprecated": {},
    "hatchnb.deprecated.deprecation": {
        "semver_less_than": "hatchnb.engine_compat:semver_less_than",
        "parse_semver": "hatchnb.engine_compat:parse_semver",
    },
    "hatchnb.context": {},
    "hatchnb.context.context": {
        "Context": "hatchnb.runtime.context:Context",
        "DurableContext": "hatchnb.runtime.durable:DurableContext",
    },
    "hatchnb.workflow_run": {"WorkflowRunRef": "hatchnb.results:WorkflowRunRef"},
    "hatchnb.worker": {},
    "hatchnb.worker.worker": {
        "Worker": "hatchnb.runtime.worker:Worker",
        "WorkerStatus": "hatchnb.runtime.health:WorkerStatus",
    },
    "hatchnb.clients": {},
    "hatchnb.clients.admin": {
        "WorkflowRunDetail": "hatchnb.records:WorkflowRunDetail",
        "TriggerWorkflowOptions": "hatchnb.types:TriggerWorkflowOptions",
        "ScheduleTriggerWorkflowOptions": "hatchnb.types:ScheduleTriggerWorkflowOptions",
    },
    # the REST models hatchet_sdk's code imports, answered by hatchnb's records
    "hatchnb.clients.listeners": {},
    "hatchnb.clients.listeners.run_event_listener": {
        "StepRunEventType": "hatchnb.records:StepRunEventType",
        "WorkflowRunEventType": "hatchnb.records:WorkflowRunEventType",
    },
    "hatchnb.clients.rest": {},
    "hatchnb.clients.rest.models": {},
    "hatchnb.clients.rest.api": {},
    "hatchnb.clients.rest.api.task_api": {"TaskApi": "hatchnb.features.rest_compat:TaskApi"},
    "hatchnb.clients.rest.api.observability_api": {
        "ObservabilityApi": "hatchnb.features.rest_compat:ObservabilityApi"
    },
    "hatchnb.clients.rest.models.otel_span": {"OtelSpan": "hatchnb.records:TraceSpan"},
    "hatchnb.clients.rest.api.workflow_api": {
        "WorkflowApi": "hatchnb.features.rest_compat:WorkflowApi"
    },
    "hatchnb.clients.rest.models.trigger_run_result": {
        "TriggerRunResult": "hatchnb.features.rest_compat:TriggerRunResult"
    },
    "hatchnb.clients.rest.models.v1_restore_task_response": {
        "V1RestoreTaskResponse": "hatchnb.features.rest_compat:V1RestoreTaskResponse"
    },
    "hatchnb.clients.rest.models.v1_task_status": {"V1TaskStatus": "hatchnb.records:RunStatus"},
    "hatchnb.clients.rest.models.v1_task_summary": {"V1TaskSummary": "hatchnb.records:WorkflowRun"},
    "hatchnb.clients.rest.models.v1_task_summary_list": {
        "V1TaskSummaryList": "hatchnb.records:RunList"
    },
    "hatchnb.clients.rest.models.v1_workflow_run_details": {
        "V1WorkflowRunDetails": "hatchnb.records:WorkflowRun"
    },
    "hatchnb.clients.rest.models.v1_task_event_type": {
        "V1TaskEventType": "hatchnb.records:V1TaskEventType"
    },
    "hatchnb.clients.rest.models.v1_event": {"V1Event": "hatchnb.records:Event"},
    "hatchnb.clients.rest.models.v1_branch_durable_task_response": {
        "V1BranchDurableTaskResponse": "hatchnb.records:DurableBranch"
    },
    "hatchnb.clients.rest.models.update_worker_request": {
        "UpdateWorkerRequest": "hatchnb.types:UpdateWorkerRequest"
    },
    "hatchnb.clients.rest.models.rate_limit_order_by_field": {
        "RateLimitOrderByField": "hatchnb.records:RateLimitOrderByField"
    },
    "hatchnb.clients.rest.models.rate_limit_order_by_direction": {
        "RateLimitOrderByDirection": "hatchnb.records:RateLimitOrderByDirection"
    },
    "hatchnb.clients.rest.models.v1_update_filter_request": {
        "V1UpdateFilterRequest": "hatchnb.types:UpdateFilterRequest"
    },
    # hatchet.webhooks' models (hatchnb/webhook_types.py)
    "hatchnb.clients.rest.models.v1_webhook": {"V1Webhook": "hatchnb.webhook_types:V1Webhook"},
    "hatchnb.clients.rest.models.v1_webhook_list": {
        "V1WebhookList": "hatchnb.webhook_types:V1WebhookList"
    },
    "hatchnb.clients.rest.models.v1_webhook_source_name": {
        "V1WebhookSourceName": "hatchnb.webhook_types:V1WebhookSourceName"
    },
    "hatchnb.clients.rest.models.v1_webhook_auth_type": {
        "V1WebhookAuthType": "hatchnb.webhook_types:V1WebhookAuthType"
    },
    "hatchnb.clients.rest.models.v1_webhook_hmac_algorithm": {
        "V1WebhookHMACAlgorithm": "hatchnb.webhook_types:V1WebhookHMACAlgorithm"
    },
    "hatchnb.clients.rest.models.v1_webhook_hmac_encoding": {
        "V1WebhookHMACEncoding": "hatchnb.webhook_types:V1WebhookHMACEncoding"
    },
    "hatchnb.clients.rest.models.v1_webhook_basic_auth": {
        "V1WebhookBasicAuth": "hatchnb.webhook_types:V1WebhookBasicAuth"
    },
    "hatchnb.clients.rest.models.v1_webhook_api_key_auth": {
        "V1WebhookAPIKeyAuth": "hatchnb.webhook_types:V1WebhookAPIKeyAuth"
    },
    "hatchnb.clients.rest.models.v1_webhook_hmac_auth": {
        "V1WebhookHMACAuth": "hatchnb.webhook_types:V1WebhookHMACAuth"
    },
    "hatchnb.clients.rest.models.v1_create_webhook_request_base": {
        "V1CreateWebhookRequestBase": "hatchnb.webhook_types:V1CreateWebhookRequestBase"
    },
    "hatchnb.clients.rest.models.v1_update_webhook_request": {
        "V1UpdateWebhookRequest": "hatchnb.webhook_types:V1UpdateWebhookRequest"
    },
    "hatchnb.clients.events": {
        "PushEventOptions": "hatchnb.features.events:PushEventOptions",
        "BulkPushEventWithMetadata": "hatchnb.features.events:BulkPushEventWithMetadata",
        "Event": "hatchnb.records:PushedEvent",
    },
}


def _is_package(name: str) -> bool:
    return any(other.startswith(name + ".") for other in ALIASES)


class _AliasLoader(importlib.abc.Loader):
    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None  # the default module object

    def exec_module(self, module: types.ModuleType) -> None:
        table = ALIASES[module.__name__]
        module.__doc__ = f"hatchet_sdk's {module.__name__.replace('hatchnb', 'hatchet_sdk')}"
        for name, target in table.items():
            home, attribute = target.split(":")
            setattr(module, name, getattr(importlib.import_module(home), attribute))
        module.__all__ = sorted(table)  # type: ignore[attr-defined]


class _AliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in ALIASES:
            return None
        spec = importlib.machinery.ModuleSpec(
            fullname, _AliasLoader(), is_package=_is_package(fullname)
        )
        if spec.submodule_search_locations is not None:
            spec.submodule_search_locations = []
        return spec


def install() -> None:
    """Make the alias paths importable (idempotent)."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.append(_AliasFinder())
