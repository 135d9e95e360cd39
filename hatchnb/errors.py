"""One exception tree; each class's docstring is its default message."""

from __future__ import annotations

import json
import sys


class HatchnbError(Exception):
    """A hatchnb error."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (self.__doc__ or "").strip())


class ConfigurationError(HatchnbError):
    """hatchnb is not configured correctly."""


class DatabaseUnavailable(HatchnbError):
    """PostgreSQL cannot be reached: check HATCHNB_DATABASE_URL (or dsn=) and the server."""


class SchemaTooNew(HatchnbError):
    """The database schema is newer than this hatchnb; upgrade hatchnb on this machine."""


class UserNotFound(HatchnbError, LookupError):
    """No dashboard user has this name: see `hatchnb users list`."""


class InvalidUser(HatchnbError, ValueError):
    """The dashboard user is invalid: a name of 1-64 printable characters without spaces,
    a role of viewer, operator or admin, and a password of at least 8 characters."""


class InvalidWorkflow(HatchnbError, ValueError):
    """The workflow declaration is invalid."""


class SerializationError(HatchnbError, ValueError):
    """A value could not be serialized or deserialized."""


class InvalidInput(SerializationError):
    """The input does not match the workflow's input validator."""


class PayloadTooLarge(SerializationError):
    """A value is larger than the payload size limit (HATCHNB_MAX_PAYLOAD_BYTES)."""


class IncompatibleCode(HatchnbError):
    """This worker cannot load the code of the workflow version."""


class InvalidArgument(HatchnbError, ValueError):
    """An argument of this call is not valid."""


class NotSupported(HatchnbError, NotImplementedError):
    """This option of hatchet_sdk is not supported by this hatchnb version."""


class ValueRefused(HatchnbError, ValueError):
    """PostgreSQL refused a value this call passed."""


class NotFound(HatchnbError, LookupError):
    """Nothing has this id."""


class InvalidId(NotFound, ValueError):
    """This is not an id (hatchnb's ids are UUIDs)."""


class RunNotFound(NotFound):
    """No workflow run has this id."""


class WorkflowNotFound(NotFound, ValueError):
    """No workflow is registered under this name."""


class NonRetryableException(Exception):
    """Raise inside a task to fail it at once, without using the remaining retries."""


class TaskRunError(HatchnbError):
    """A task run failed."""

    def __init__(self, task_name: str, error: str) -> None:
        self.task_name = task_name
        self.error = error
        #: hatchet_sdk names: the exception type, its message and the traceback text
        self.exc_type, _, rest = error.partition(": ")
        self.exc, _, self.trace = rest.partition("\n\n")
        super().__init__(f"{task_name}: {error}")

    def serialize(self, include_metadata: bool = False) -> str:
        """hatchet_sdk's text form: ``"<type>: <message>\n<traceback>"``; with
        ``include_metadata`` a JSON line naming the task follows."""
        header = f"{self.exc_type}: {self.exc}" if self.exc_type and self.exc else self.exc_type
        trace = self.trace.rstrip("\n")
        text = f"{header}\n{trace}" if trace else header
        if include_metadata and text:
            text += "\n\n" + json.dumps({"hatchnb": {"task_name": self.task_name}})
        return text

    @classmethod
    def deserialize(cls, serialized: str, task_name: str = "") -> TaskRunError:
        """A TaskRunError from ``serialize``'s text (its metadata line dropped)."""
        body = serialized.rsplit("\n\n{", 1)[0] if serialized.endswith("}") else serialized
        header, _, trace = body.partition("\n")
        return cls(task_name, f"{header}\n\n{trace}" if trace else header)


class FailedRunError(HatchnbError):
    """A workflow run did not succeed."""

    def __init__(self, run_id: str, status: str, errors: list[TaskRunError]) -> None:
        self.workflow_run_id = run_id
        self.status = status
        self.exceptions = errors
        detail = "\n".join(str(e) for e in errors) or status.lower()
        super().__init__(f"workflow run {run_id} {status}:\n{detail}")


class CancelledRunError(FailedRunError, ValueError):
    """A workflow run was cancelled."""


#: the name hatchet_sdk v1 raises from ``result()`` when a run failed
FailedTaskRunExceptionGroup = FailedRunError


class DedupeViolationError(HatchnbError):
    """hatchet_sdk's name, importable so code catching it runs; hatchnb never raises it (a
    child spawned again with the same ``child_key`` returns the existing child run)."""


class IdempotencyCollisionError(HatchnbError):
    """A trigger's idempotency key is held by an earlier run: no run was started."""

    def __init__(self, existing_run_external_id: str) -> None:
        super().__init__(
            f"no run started: its idempotency key is held by run {existing_run_external_id}"
        )
        self.existing_run_external_id = existing_run_external_id


class BulkTriggerIdempotencyCollisionError(HatchnbError):
    """Some items of a bulk trigger collided on their idempotency keys; the others ran."""

    def __init__(
        self,
        successful_workflow_run_external_ids: list[str],
        collisions: list[IdempotencyCollisionError],
    ) -> None:
        super().__init__(
            f"{len(collisions)} item(s) started no run (idempotency key held); "
            f"{len(successful_workflow_run_external_ids)} started"
        )
        self.successful_workflow_run_external_ids = successful_workflow_run_external_ids
        self.collisions = collisions


def message_of(exc: BaseException) -> str:
    """``str(exc)``, or, when that raises, a stand-in that says so: describing an error must
    never fail itself (a task whose exception could not be described used to be lost)."""
    try:
        return str(exc)
    except Exception as failure:
        return (
            f"<str() of this {type(exc).__name__} raised {type(failure).__name__}; "
            f"repr: {_repr_of(exc)}>"
        )


def _repr_of(exc: BaseException) -> str:
    try:
        return repr(exc)
    except Exception:
        return object.__repr__(exc)


def storable_text(text: str) -> str:
    """``text`` as PostgreSQL ``text`` can hold it: NUL characters and lone surrogates are
    written as backslash escapes instead of making the database refuse the whole row."""
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return escaped.replace("\x00", "\\x00")


def missing_module(exc: ImportError, task_name: str) -> str:
    """What a task whose body failed to import a module (``exc``) reports: the module and how
    to get it onto the worker. Such a task is not retried: it cannot succeed on this worker
    until the package is installed, and retries are for transient errors."""
    not_retried = "the task run is not retried, as it cannot succeed on this worker until then"
    name = exc.name
    detail = message_of(exc)
    if not name:
        return (
            f"task {task_name!r} could not import what it needs on this worker ({detail}); "
            f"install it on the worker; {not_retried}"
        )
    top = name.partition(".")[0]
    if top in sys.stdlib_module_names:
        fix = (
            f"{top!r} is part of Python's standard library: run the task on a worker whose "
            "Python has what it imports"
        )
    elif isinstance(exc, ModuleNotFoundError) and name == top:
        return (
            f"task {task_name!r} needs the module {name!r}, which this worker cannot import "
            f"({detail}); install it on the worker (pip install {top}); {not_retried}"
        )
    else:
        fix = (
            f"the installed {top!r} lacks what the task imports: install the version the task "
            f"needs on the worker (pip install -U {top})"
        )
    return f"task {task_name!r} could not import on this worker ({detail}); {fix}; {not_retried}"


class WebhookRejected(HatchnbError):
    """An inbound webhook request was refused (``hatchet.webhooks.receive``); ``status`` is
    the HTTP status to answer with (403 bad auth, as Hatchet answers; 404 unknown webhook,
    400 bad body)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")
