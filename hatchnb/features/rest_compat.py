"""The corner of hatchet_sdk's generated REST client that Hatchet's own examples reach for
(``with hatchet.runs.client() as client: TaskApi(client).v1_task_restore(task=...)``,
``hatchet.cron._wa(client).workflow_cron_trigger(...)``), answered by the feature clients:
there is no REST hop in hatchnb."""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hatchnb.features.cron import CronClient
    from hatchnb.features.runs import RunsClient
    from hatchnb.features.traces import TracesClient
    from hatchnb.records import Rows, TraceSpan


class ApiClient:
    """What ``<feature client>.client()`` yields; a context manager, as hatchet_sdk's is.
    It holds the feature client that made it, which answers the REST calls."""

    def __init__(
        self,
        runs: RunsClient | None = None,
        cron: CronClient | None = None,
        traces: TracesClient | None = None,
    ) -> None:
        self.runs = runs
        self.cron = cron
        self.traces = traces

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        return None


@dataclasses.dataclass(frozen=True)
class V1RestoreTaskResponse:
    #: whether the task run was evicted and is queued to run now
    requeued: bool


class TaskApi:
    """hatchet_sdk's ``TaskApi``, the calls hatchnb answers."""

    def __init__(self, api_client: ApiClient) -> None:
        if not isinstance(api_client, ApiClient) or api_client.runs is None:
            raise TypeError(
                "TaskApi(client) takes the client of `with hatchet.runs.client() as client:`"
            )
        self._runs = api_client.runs

    def v1_task_restore(self, task: str) -> V1RestoreTaskResponse:
        """Resume an evicted durable task run now (``hatchet.runs.restore_task``)."""
        return V1RestoreTaskResponse(requeued=self._runs.restore_task(task))


@dataclasses.dataclass(frozen=True)
class TriggerRunResult:
    #: the id of the run started
    external_id: str


class WorkflowApi:
    """hatchet_sdk's ``WorkflowApi`` (``hatchet.cron._wa(client)``), the calls hatchnb
    answers."""

    def __init__(self, api_client: ApiClient) -> None:
        if not isinstance(api_client, ApiClient) or api_client.cron is None:
            raise TypeError(
                "WorkflowApi(client) takes the client of `with hatchet.cron.client() as client:`"
            )
        self._cron = api_client.cron

    def workflow_cron_trigger(self, tenant: str, cron_workflow: str) -> TriggerRunResult:
        """Start a run of the cron's workflow now (``hatchet.cron.trigger_now``); ``tenant``
        is not checked: hatchnb has one tenant per database."""
        return TriggerRunResult(external_id=self._cron.trigger_now(cron_workflow))


class ObservabilityApi:
    """hatchet_sdk's ``ObservabilityApi`` (``with hatchet.runs.client() as client:``)."""

    def __init__(self, api_client: ApiClient) -> None:
        if not isinstance(api_client, ApiClient) or api_client.traces is None:
            raise TypeError(
                "ObservabilityApi(client) takes the client of `with hatchet.runs.client() as "
                "client:`"
            )
        self._traces = api_client.traces

    def v1_observability_get_trace(
        self,
        tenant: str,
        run_external_id: str,
        offset: int | None = None,
        limit: int | None = None,
    ) -> Rows[TraceSpan]:
        """The spans of a run's trace (``hatchet.traces.get``); ``tenant`` is not checked:
        hatchnb has one tenant per database."""
        from hatchnb.records import Rows

        return Rows(self._traces.get(run_external_id, offset, limit))
