"""Running a claimed batch: one call of a batch task's function with every member's input
(``{BatchMemberId: input}``), and one result per member from what it returns.

A batch occupies one slot (its first member's). Every member is in ``Slots.running`` with a
context of its own, so cancellations, the comparison with the database after an outage and
the hand-back at shutdown treat members like any task run. Cancelling one member's run does
not stop the call (its result is simply not applied: the database no longer has that
attempt running); the call is interrupted when every member is cancelled (timeouts:
members share their deadline) or when the function calls ``ctx.cancel()``, which cancels
every member."""

from __future__ import annotations

import asyncio
import contextvars
from typing import TYPE_CHECKING, Any

from hatchnb import batching, errors, ids, serialization, signing
from hatchnb.records import CANCELLED_BY_TASK
from hatchnb.runtime.context import Context, current_context
from hatchnb.runtime.executor import describe, failure
from hatchnb.store.workers import ClaimedTask, Result

if TYPE_CHECKING:
    from hatchnb.runtime.executor import Executor


class _MemberContext(Context):
    """A member's own context: a cancellation marks it and, once every member is
    cancelled, interrupts the batch's call."""

    batch: BatchCall

    def _mark_cancelled(self) -> None:
        super()._mark_cancelled()
        self.batch.member_cancelled()


class BatchCall:
    """One claimed batch: its members (batch order), their contexts and the call."""

    def __init__(self, executor: Executor, members: list[ClaimedTask]) -> None:
        self.executor = executor
        self.members = members
        handle, client = executor.handle, executor.client
        #: the context the function receives: the first member's facts, logs and streams
        self.ctx = Context(members[0], handle, client)
        self.member_contexts: dict[int, _MemberContext] = {}
        for member in members:
            member_ctx = _MemberContext(member, handle, client)
            member_ctx.batch = self
            self.member_contexts[member.id] = member_ctx

    def member_cancelled(self) -> None:
        if all(c.is_cancelled for c in self.member_contexts.values()):
            self.ctx._mark_cancelled()

    def start(self) -> None:
        slots = self.executor.slots
        for member in self.members:
            stale = slots.running.get(member.id)
            if stale is not None:  # an older attempt the engine took away
                slots.abandon(*stale)
        task = self.executor.loop.create_task(self._execute())
        self.ctx._async_task = task
        for member in self.members:
            slots.running[member.id] = (task, self.member_contexts[member.id])
        slots.costs[self.members[0].id] = 1  # one slot for the whole batch

    async def _execute(self) -> None:
        executor = self.executor
        slots, reporter = executor.slots, executor.reporter
        token = current_context.set(self.ctx)
        try:
            results = await self._call()
        except asyncio.CancelledError:
            if not self.ctx.cancelled_itself:
                return  # cancelled runs or shutdown: the database has the final states
            results = []
        finally:
            current_context.reset(token)
            for member in self.members:
                slots.release(member)
            slots.maybe_more = True  # the group may have a batch waiting for this one
        if self.ctx.cancelled_itself:  # ctx.cancel(): every member ends CANCELLED
            results = [
                (m.id, m.attempt, "CANCELLED", None, None, CANCELLED_BY_TASK) for m in self.members
            ]
        reporter.results.extend(results)
        reporter.ready.set()

    async def _call(self) -> list[Result]:
        lead = self.members[0]
        refused: list[Result] = []  # members left out of the call, with their results
        try:
            code, config = await self._code()
            inputs, refused = self._inputs(code)
            if not inputs:
                return refused
            returned = await self._invoke(code.functions[lead.task_name], inputs)
            outcomes = batching.split_outputs(returned, list(inputs), config, lead.task_name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            out = {result[0] for result in refused}
            return refused + [failure(m, exc) for m in self.members if m.id not in out]
        by_member = {ids.task_run_external_id(m.run_id, m.task_name): m for m in self.members}
        return refused + [
            self._result(by_member[member], outcome) for member, outcome in outcomes.items()
        ]

    async def _code(self) -> tuple[serialization.WorkflowCode, batching.BatchTaskConfig]:
        executor, lead = self.executor, self.members[0]
        code = executor.code.get(lead.version_id) or await executor._code_for(lead)
        signed_for = executor.signed_for.get(lead.version_id)
        signing.check_claim(signed_for, lead.workflow_name, lead.task_name, lead.version_id)
        config = code.batch_of(lead.task_name)
        if config is None:
            raise errors.IncompatibleCode(
                f"task {lead.task_name!r} of workflow {lead.workflow_name!r} is not a batch "
                f"task in the code of version {lead.version_id}; register it with batch_task"
            )
        return code, config

    def _inputs(self, code: serialization.WorkflowCode) -> tuple[dict[str, Any], list[Result]]:
        """Each member's input by BatchMemberId; a member whose input does not validate fails
        alone (without retries) and is left out of the call."""
        inputs: dict[str, Any] = {}
        refused: list[Result] = []
        for member in self.members:
            try:
                data = serialization.load_input(member.input, code.input_validator)
            except errors.SerializationError as exc:
                refused.append(failure(member, exc))
                continue
            inputs[
                batching.BatchMemberId(ids.task_run_external_id(member.run_id, member.task_name))
            ] = data
        return inputs, refused

    async def _invoke(self, fn: Any, inputs: dict[str, Any]) -> Any:
        if asyncio.iscoroutinefunction(fn):
            return await fn(inputs, self.ctx)
        call = contextvars.copy_context().run
        executor = self.executor
        return await executor.loop.run_in_executor(executor.threads, call, fn, inputs, self.ctx)

    def _result(self, member: ClaimedTask, outcome: batching.MemberOutcome) -> Result:
        if outcome.error is not None:
            return (member.id, member.attempt, "FAILED", None, None, outcome.error)
        settings = self.executor.settings
        try:
            output, blob = serialization.dump_output(
                outcome.output,
                settings.max_payload_bytes,
                settings.max_blob_bytes,
                settings.signing_key,
            )
        except Exception as exc:
            return (member.id, member.attempt, "FAILED_FINAL", None, None, describe(exc))
        return (member.id, member.attempt, "SUCCEEDED", output, blob, None)


def start_batches(executor: Executor, claimed: list[ClaimedTask]) -> int:
    """Start the batches among claimed members (consecutive rows of one batch id); returns
    how many."""
    batches: dict[str, list[ClaimedTask]] = {}
    for member in claimed:
        batches.setdefault(member.batch_id or "", []).append(member)
    for members in batches.values():
        BatchCall(executor, members).start()
    return len(batches)
