"""Run lineage: the statements of a fork (run inside the caller's transaction, which also
inserts the new run), a run's forks, and the task facts ``runs.diff`` compares. Statements
in ``sql/lineage.sql``."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hatchnb import errors
from hatchnb.store import history
from hatchnb.store.db import Store, Tx


@dataclass(frozen=True)
class ForkSource:
    """The run a fork starts from and its tasks: ``{name: (status, parents)}``."""

    run_id: str
    workflow_name: str
    input: Any
    additional_metadata: dict[str, Any]
    priority: int
    tasks: dict[str, tuple[str, tuple[str, ...]]]


@dataclass(frozen=True)
class Fork:
    """A run forked from this one."""

    run_id: str
    forked_at_task: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class TaskFacts:
    """One task of a run as ``runs.diff`` compares it; ``task_spec`` and ``source`` come
    from the version whose code produced the output."""

    task_name: str
    status: str
    output: Any
    output_blob: bytes | None
    error: str | None
    reused_from: int | None
    version_id: int
    content_hash: str
    task_spec: dict[str, Any] | None
    source: str | None


def fork_source_in(tx: Tx, run_id: str) -> ForkSource:
    """The source run (moved back from history when archived), locked for share until the
    caller's transaction ends."""
    history.restore_in(tx, [run_id])
    row = tx.execute(Store.query("fork_source_run"), {"id": run_id}).fetchone()
    if row is None:
        raise errors.RunNotFound(f"no workflow run has the id {run_id}")
    tasks = tx.execute(Store.query("fork_source_tasks"), {"run_id": run_id}).fetchall()
    return ForkSource(
        run_id=run_id,
        workflow_name=row["workflow_name"],
        input=row["input"],
        additional_metadata=row["additional_metadata"],
        priority=row["priority"],
        tasks={t["task_name"]: (t["status"], tuple(t["parents"])) for t in tasks},
    )


def reuse_outputs_in(
    tx: Tx, run_id: uuid.UUID, source_id: str, from_task: str, reused: list[str]
) -> int:
    """Copy the source's outputs of ``reused`` into the new run, queue what is ready and
    link the run to its source; the number of task runs copied."""
    params = {
        "run_id": run_id,
        "source_id": source_id,
        "from_task": from_task,
        "reused": reused,
    }
    row = tx.execute(Store.query("reuse_source_outputs"), params).fetchone()
    assert row is not None, "the fork's run was inserted in this transaction"
    if row["copied"] != len(reused):
        raise errors.HatchnbError(
            f"run {source_id} changed while it was forked: copied {row['copied']} of "
            f"{len(reused)} outputs; fork again"
        )
    return int(row["copied"])


class LineageRepo:
    def __init__(self, store: Store) -> None:
        self._db = store

    def forks_of(self, run_id: str) -> list[Fork]:
        rows = self._db.fetch_all("forks_of_run", run_id=run_id)
        return [Fork(str(r["id"]), r["forked_at_task"], r["status"], r["created_at"]) for r in rows]

    def task_facts(self, run_id: str) -> list[TaskFacts]:
        rows = self._db.fetch_all("diff_run_tasks", run_id=run_id)
        return [TaskFacts(**r) for r in rows]
