"""The payload of a ``hatchnb_cancel`` notification: which attempts of which task runs were
cancelled. The attempt matters: a timed-out attempt is retried at once, and a worker may
already run the next attempt of the same task run when the note about the old one arrives."""

from __future__ import annotations

from collections.abc import Iterable, Iterator


def cancel_payload(attempts: Iterable[tuple[int, int]]) -> str:
    """``id:attempt`` pairs, comma-separated."""
    return ",".join(f"{task_run_id}:{attempt}" for task_run_id, attempt in attempts)


def cancelled_attempts(payload: str) -> Iterator[tuple[int, int | None]]:
    """The (task run id, attempt) pairs of a payload; malformed parts are skipped. A bare
    id (from a sender older than attempts in the payload) names whatever attempt runs."""
    for part in payload.split(","):
        task_run_id, colon, attempt = part.partition(":")
        if task_run_id.isdigit() and (attempt.isdigit() or not colon):
            yield int(task_run_id), int(attempt) if attempt else None
