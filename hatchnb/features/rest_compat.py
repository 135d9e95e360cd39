"""The corner of hatchet_sdk's generated REST client that Hatchet's own examples reach for
(``with hatchet.runs.client() as client: TaskApi(client).v1_task_restore(task=...)``),
answered by the feature clients: there is no REST hop in hatchnb."""

from __future__ import annotations

import dataclasses
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hatchnb.features.runs import RunsClient


class ApiClient:
    """What ``<feature client>.client()`` yields; a context manager, as hatchet_sdk's is."""

    def __init__(self, runs: RunsClient) -> None:
        self.runs = runs

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
        if not isinstance(api_client, ApiClient):
            raise TypeError(
                "TaskApi(client) takes the client of `with hatchet.runs.client() as client:`"
            )
        self._runs = api_client.runs

    def v1_task_restore(self, task: str) -> V1RestoreTaskResponse:
        """Resume an evicted durable task run now (``hatchet.runs.restore_task``)."""
        return V1RestoreTaskResponse(requeued=self._runs.restore_task(task))
