"""Executing one claimed task run: its code (loaded once per version), its context, the call
(sync functions on the worker's threads), and the result it reports."""

from __future__ import annotations

import asyncio
import contextvars
import json
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from hatchnb import batching, errors, ids, serialization, signing, tracing
from hatchnb.records import CANCELLED_BY_TASK
from hatchnb.runtime import durable
from hatchnb.runtime.claims import Slots
from hatchnb.runtime.context import Context, WorkerHandle, current_context
from hatchnb.runtime.reporter import Reporter
from hatchnb.store.durable import AsyncDurableRepo
from hatchnb.store.versions import AsyncVersionsRepo
from hatchnb.store.workers import ClaimedTask, Result

if TYPE_CHECKING:
    from hatchnb.client import Hatchet


class Executor:
    def __init__(
        self,
        client: Hatchet,
        handle: WorkerHandle,
        slots: Slots,
        reporter: Reporter,
        versions: AsyncVersionsRepo,
        durable_log: AsyncDurableRepo,
        threads: ThreadPoolExecutor,
    ) -> None:
        self.client = client
        self.settings = client._settings
        self.handle = handle
        self.slots = slots
        self.reporter = reporter
        self.versions = versions
        self.durable_log = durable_log
        self.threads = threads
        self.loop = asyncio.get_running_loop()
        self.code: dict[int, serialization.WorkflowCode] = dict(client._local_code)
        #: what the signed code of each version loaded from the database was signed for
        self.signed_for: dict[int, signing.CodeIdentity] = {}

    def start(self, claim: ClaimedTask) -> None:
        running = self.slots.running
        stale = running.get(claim.id)
        if stale is not None:  # an older attempt the engine took away (declared us dead)
            self.slots.abandon(*stale)
        ctx = Context(claim, self.handle, self.client)
        task = self.loop.create_task(self._execute(claim, ctx))
        ctx._async_task = task
        running[claim.id] = (task, ctx)
        self.slots.occupy(claim)

    async def _execute(self, claim: ClaimedTask, ctx: Context) -> None:
        reporter = self.reporter
        token = current_context.set(ctx)
        cancelled_itself = False
        try:
            # the attributes only when traced: this is every task run's path
            attributes = (
                _span_attributes(claim, self.handle, self.client.config.tenant_id)
                if tracing.active()
                else {}
            )
            with tracing.task_run(attributes, claim.additional_metadata or {}) as done:
                try:
                    result = await self._call(claim, ctx)
                finally:
                    cancelled_itself = self._cancelled_itself(claim, ctx)
                done("CANCELLED" if cancelled_itself else result[2], result[5])
            await asyncio.gather(*reporter.stream_writes.pop(claim.id, []), return_exceptions=True)
        except asyncio.CancelledError:
            if not cancelled_itself:
                return  # cancelled run or shutdown: the database already has the final state
        finally:
            current_context.reset(token)
            if self.slots.release(claim):
                reporter.stream_writes.pop(claim.id, None)
        if cancelled_itself:  # ctx.cancel(): this task run ends CANCELLED, whatever it returned
            result = (claim.id, claim.attempt, "CANCELLED", None, None, CANCELLED_BY_TASK)
        reporter.results.append(result)
        reporter.ready.set()

    def _cancelled_itself(self, claim: ClaimedTask, ctx: Context) -> bool:
        """Whether the task called ctx.cancel() (on its context, durable or not)."""
        current = self.slots.running.get(claim.id, (None, ctx))[1]
        return current.cancelled_itself or ctx.cancelled_itself

    async def _call(self, claim: ClaimedTask, ctx: Context) -> Result:
        settings = self.settings
        try:
            code = self.code.get(claim.version_id) or await self._code_for(claim)
            signed_for = self.signed_for.get(claim.version_id)
            signing.check_claim(signed_for, claim.workflow_name, claim.task_name, claim.version_id)
            fn = code.functions[claim.task_name]
            data = serialization.load_input(claim.input, code.input_validator)
            batch = code.batch_of(claim.task_name)
            if batch is not None:  # a batch member claimed alone: it has no group
                facts = (claim.input, claim.additional_metadata)
                raise batching.GroupKeyError(batching.group_key_failure(batch, *facts))
            if claim.task_name in code.durable:
                evict_after = code.evict_after(claim.task_name, settings.durable_evict_after)
                priority = code.capacity_priority(claim.task_name)
                ctx = await self._durable_context(claim, ctx, evict_after, priority)
            try:
                if asyncio.iscoroutinefunction(fn):
                    value = await fn(data, ctx)
                else:
                    call = contextvars.copy_context().run
                    value = await self.loop.run_in_executor(self.threads, call, fn, data, ctx)
            finally:
                if isinstance(ctx, durable.DurableContext):
                    durable.workflow_spawn_indices.pop(ctx._action_key, None)
            output, blob = serialization.dump_output(
                value, settings.max_payload_bytes, settings.max_blob_bytes, settings.signing_key
            )
        except asyncio.CancelledError:
            raise
        except durable.Evicted as evicted:
            resume = json.dumps({"resume_at": evicted.resume_at.isoformat()})
            return (claim.id, claim.attempt, "EVICTED", resume, None, None)
        except Exception as exc:
            return failure(claim, exc)
        return (claim.id, claim.attempt, "SUCCEEDED", output, blob, None)

    async def _durable_context(
        self, claim: ClaimedTask, ctx: Context, evict_after: float, priority: int | None
    ) -> Context:
        """Swap the plain context for a DurableContext holding the run's event log."""
        entries = await self.durable_log.log(claim.id)
        durable_ctx = durable.DurableContext(
            claim, self.handle, self.client, entries, evict_after, priority
        )
        durable_ctx._async_task = ctx._async_task
        if ctx.is_cancelled:
            durable_ctx._mark_cancelled()
        running = self.slots.running
        if claim.id in running:
            running[claim.id] = (running[claim.id][0], durable_ctx)
        current_context.set(durable_ctx)
        durable.ctx_action_key.set(durable_ctx._action_key)
        return durable_ctx

    async def _code_for(self, claim: ClaimedTask) -> serialization.WorkflowCode:
        version_id = claim.version_id
        code = self.code.get(version_id) or self.client._local_code.get(version_id)
        if code is None:
            stored = await self.versions.stored_code(version_id)
            keys = self.settings.signing_keys
            identity = signing.CodeIdentity(
                stored.workflow_name, stored.content_hash, signing.spec_task_names(stored.spec)
            )
            signing.check_code(stored.code, stored.signature, identity, keys, version_id)
            code = await asyncio.to_thread(
                serialization.load_code, stored.code, stored.python_version, version_id
            )
            if keys.verifying():
                self.signed_for[version_id] = identity
        self.code[version_id] = code
        return code


def failure(claim: ClaimedTask, exc: Exception) -> Result:
    """The result of a task run whose call raised ``exc``: retried unless the exception says
    it cannot succeed (NonRetryableException, incompatible code or data, a missing import
    inside the task body)."""
    if isinstance(
        exc, errors.NonRetryableException | errors.IncompatibleCode | errors.SerializationError
    ):
        return (claim.id, claim.attempt, "FAILED_FINAL", None, None, describe(exc))
    if isinstance(exc, ImportError):
        message = errors.missing_module(exc, claim.task_name)
        return (claim.id, claim.attempt, "FAILED_FINAL", None, None, describe(exc, message))
    return (claim.id, claim.attempt, "FAILED", None, None, describe(exc))


def describe(exc: BaseException, message: str | None = None) -> str:
    """``Type: message`` (``message`` replaces the exception's own), then the traceback, as
    text the database stores. Never raises: an exception whose ``str()`` fails is described
    by its type and repr, so its task run still fails and retries."""
    body = errors.message_of(exc) if message is None else message
    return errors.storable_text(f"{type(exc).__name__}: {body}\n\n{_traceback_of(exc)}")


def _traceback_of(exc: BaseException) -> str:
    try:
        return "".join(traceback.format_exception(exc))
    except Exception as failure:
        return f"(the traceback could not be formatted: {type(failure).__name__})"


def _span_attributes(claim: ClaimedTask, worker: WorkerHandle, tenant_id: str) -> dict[str, Any]:
    """What a task run's span says about it (hatchet_sdk's attribute names)."""
    standalone = claim.workflow_name == claim.task_name and set(claim.siblings) <= {claim.task_name}
    return {
        "instrumentor": "hatchet",
        "hatchet.tenant_id": tenant_id,
        "hatchet.workflow_name": claim.workflow_name,
        "hatchet.task_name": claim.task_name,
        "hatchet.step_name": claim.task_name,
        "hatchet.workflow_run_id": str(claim.run_id),
        # a standalone task's run id is its task run's id too, as in Hatchet
        "hatchet.step_run_id": str(claim.run_id)
        if standalone
        else ids.task_run_external_id(claim.run_id, claim.task_name),
        "hatchet.retry_count": claim.retry_count,
        "hatchet.attempt": claim.attempt,
        "hatchet.worker_id": worker.worker_id,
    }
