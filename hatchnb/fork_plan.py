"""What a fork reuses and what it runs again (``hatchet.runs.fork``): pure decisions over
the current version's DAG and the source run's task runs, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from hatchnb import errors

#: source statuses whose outputs a fork can reuse (SKIPPED counts as done for children)
REUSABLE = ("SUCCEEDED", "SKIPPED")


@dataclass(frozen=True)
class SourceTask:
    """A task run of the source run: its status and the parents it had there."""

    status: str
    parents: tuple[str, ...]


@dataclass(frozen=True)
class ForkPlan:
    """Tasks whose source outputs are copied, and tasks that run again (``from_task``, what
    is downstream of it, and tasks that did not succeed in the source run)."""

    from_task: str
    reused: tuple[str, ...]
    rerun: tuple[str, ...]


def plan_fork(
    run_id: str,
    workflow_name: str,
    from_task: str,
    current: Mapping[str, Sequence[str]],
    source: Mapping[str, SourceTask],
) -> ForkPlan:
    """``current``: ``{task name: parent names}`` of the workflow's newest version;
    ``source``: the source run's task runs by name. Raises with what to change when the
    fork cannot keep the meaning of the source's upstream outputs."""
    if from_task not in current:
        valid = ", ".join(sorted(current))
        raise errors.InvalidArgument(
            f"from_task={from_task!r}: workflow {workflow_name!r} (its current version) has "
            f"no such task; use one of: {valid}"
        )
    upstream = ancestors(current, from_task)
    _check_source_has(run_id, workflow_name, from_task, upstream, current, source)
    downstream = descendants(current, from_task) | {from_task}
    reused = [
        name
        for name in current
        if name not in downstream
        and name in source
        and source[name].status in REUSABLE
        and ancestors(current, name) <= _reusable(source)
    ]
    rerun = [name for name in current if name not in reused]
    return ForkPlan(from_task, tuple(reused), tuple(rerun))


def _check_source_has(
    run_id: str,
    workflow_name: str,
    from_task: str,
    upstream: set[str],
    current: Mapping[str, Sequence[str]],
    source: Mapping[str, SourceTask],
) -> None:
    dropped = ancestors({n: t.parents for n, t in source.items()}, from_task) - set(current)
    if from_task in source and dropped:
        raise errors.InvalidWorkflow(
            f"the current version of workflow {workflow_name!r} no longer has "
            f"{_names(dropped)} upstream of {from_task!r} in run {run_id}: fork from a task "
            "both versions share, or trigger a new run"
        )
    missing = upstream - set(source)
    if missing:
        raise errors.InvalidWorkflow(
            f"run {run_id} has no output of {_names(missing)}, upstream of {from_task!r} in "
            f"the current version of workflow {workflow_name!r}: fork from "
            f"{_first(current, missing)!r} instead, or trigger a new run"
        )
    unfinished = {n for n in upstream if source[n].status not in REUSABLE}
    if unfinished:
        states = ", ".join(f"{n!r} is {source[n].status}" for n in sorted(unfinished))
        raise errors.InvalidArgument(
            f"cannot fork run {run_id} from {from_task!r}: upstream {states}; fork from "
            f"{_first(current, unfinished)!r} instead (only succeeded outputs are reused)"
        )


def _reusable(source: Mapping[str, SourceTask]) -> set[str]:
    return {n for n, t in source.items() if t.status in REUSABLE}


def ancestors(parents: Mapping[str, Sequence[str]], task: str) -> set[str]:
    """Every task upstream of ``task`` (its parents, theirs, ...)."""
    found: set[str] = set()
    todo = list(parents.get(task, ()))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(parents.get(name, ()))
    return found


def descendants(parents: Mapping[str, Sequence[str]], task: str) -> set[str]:
    """Every task downstream of ``task``."""
    return {name for name in parents if task in ancestors(parents, name)}


def _first(current: Mapping[str, Sequence[str]], names: set[str]) -> str:
    """The most upstream of ``names`` (none of its ancestors is among them)."""
    return min(
        (n for n in names if not (ancestors(current, n) & names)),
        key=lambda n: list(current).index(n),
    )


def _names(names: set[str]) -> str:
    return ", ".join(repr(n) for n in sorted(names))
