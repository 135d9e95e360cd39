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


class RunNotFound(HatchnbError, LookupError):
    """No workflow run has this id."""


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


def missing_module(exc: ImportError, task_name: str) -> str:
    """What a task whose body failed to import a module (``exc``) reports: the module and how
    to get it onto the worker. Such a task is not retried: it cannot succeed on this worker
    until the package is installed, and retries are for transient errors."""
    not_retried = "the task run is not retried, as it cannot succeed on this worker until then"
    name = exc.name
    if not name:
        return (
            f"task {task_name!r} could not import what it needs on this worker ({exc}); "
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
            f"({exc}); install it on the worker (pip install {top}); {not_retried}"
        )
    else:
        fix = (
            f"the installed {top!r} lacks what the task imports: install the version the task "
            f"needs on the worker (pip install -U {top})"
        )
    return f"task {task_name!r} could not import on this worker ({exc}); {fix}; {not_retried}"
