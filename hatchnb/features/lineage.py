"""``hatchet.runs.fork`` and ``hatchet.runs.diff`` (hatchnb's notebook loop): start a run
from any task of an earlier one, reusing what is upstream, and compare two runs."""

from __future__ import annotations

import json
from typing import Any

from hatchnb import errors, serialization, signing
from hatchnb.config import Settings
from hatchnb.enqueue import start_run
from hatchnb.fork_plan import ForkPlan, SourceTask, plan_fork
from hatchnb.records import WorkflowRun
from hatchnb.run_diff import RunDiff, TaskSide, diff_task, task_code_hash
from hatchnb.store import Store
from hatchnb.store.lineage import LineageRepo, TaskFacts, fork_source_in, reuse_outputs_in
from hatchnb.store.runs import RunsRepo
from hatchnb.store.versions import trigger_target_in, version_spec_in
from hatchnb.tree_diff import diff_json


def fork_run(
    store: Store, settings: Settings, run_id: str, from_task: str, input: Any | None
) -> tuple[str, ForkPlan]:
    """Create the fork in one transaction; its run id and what it reuses."""
    payload = None
    if input is not None:
        payload = json.loads(serialization.dump_json(input, "input", settings.max_payload_bytes))
    with store.transaction() as tx:
        source = fork_source_in(tx, run_id)
        target = trigger_target_in(tx, source.workflow_name)
        spec = version_spec_in(tx, target.version_id) if target is not None else None
        if target is None or spec is None:
            raise errors.WorkflowNotFound(
                f"workflow {source.workflow_name!r} of run {run_id} is no longer registered; "
                "register it again (hatchet.register) before forking its runs"
            )
        current = {t["name"]: list(t["parents"]) for t in spec["tasks"]}
        tasks = {name: SourceTask(s, parents) for name, (s, parents) in source.tasks.items()}
        plan = plan_fork(run_id, source.workflow_name, from_task, current, tasks)
        trigger = {"triggered_by": f"fork:{run_id}"}
        new_id = start_run(
            tx,
            target,
            source.input if payload is None else payload,
            source.additional_metadata,
            source.priority,
            trigger,
        )
        reuse_outputs_in(tx, new_id, run_id, from_task, list(plan.reused))
    return str(new_id), plan


def diff_runs(store: Store, keys: signing.SigningKeys, a: WorkflowRun, b: WorkflowRun) -> RunDiff:
    """Per task: code (declaration and source) changed or not, status, and the output
    difference; and the difference between the two inputs."""
    sides_a = _sides(store, keys, a.workflow_run_id)
    sides_b = _sides(store, keys, b.workflow_run_id)
    names = list(sides_a) + [n for n in sides_b if n not in sides_a]
    return RunDiff(
        run_a=a.workflow_run_id,
        run_b=b.workflow_run_id,
        workflow_a=a.workflow_name,
        workflow_b=b.workflow_name,
        status_a=str(a.status),
        status_b=str(b.status),
        input=diff_json(a.input, b.input),
        tasks=[diff_task(n, sides_a.get(n), sides_b.get(n)) for n in names],
    )


def _sides(store: Store, keys: signing.SigningKeys, run_id: str) -> dict[str, TaskSide]:
    runs = RunsRepo(store)
    notebooks = {n.task_name for n in runs.notebooks(run_id)}
    sides = {}
    for facts in LineageRepo(store).task_facts(run_id):
        notebook = None
        if facts.task_name in notebooks:
            stored = runs.latest_notebook(None, run_id, facts.task_name)
            notebook = json.loads(stored) if stored else None
        sides[facts.task_name] = _side(facts, keys, notebook)
    return sides


def _side(facts: TaskFacts, keys: signing.SigningKeys, notebook: dict[str, Any] | None) -> TaskSide:
    output = None
    if facts.status == "SUCCEEDED":
        output = serialization.load_output(facts.output, facts.output_blob, keys)
    return TaskSide(
        status=facts.status,
        output=output,
        error=facts.error,
        reused=facts.reused_from is not None,
        version_id=facts.version_id,
        code_hash=task_code_hash(facts.task_spec, facts.source),
        notebook=notebook,
    )
