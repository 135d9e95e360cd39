"""Engine duties: execution timeouts of running task runs, schedule timeouts of queued ones."""

from __future__ import annotations

from hatchnb.store.engine import Expired, LeaderSession


class ExecutionTimeoutsDuty:
    name = "execution timeouts"
    interval = 0.0

    async def run(self, session: LeaderSession) -> None:
        runs = await session.timed_out_task_runs()
        if not runs:
            return
        messages = [
            f"TimeoutError: TIMED_OUT: Task exceeded timeout: it ran longer than its "
            f"execution_timeout ({r.execution_timeout})"
            for r in runs
        ]
        await session.fail_timed_out(runs, messages)


class ScheduleTimeoutsDuty:
    name = "schedule timeouts"
    interval = 0.0

    async def run(self, session: LeaderSession) -> None:
        await session.expire_queued(schedule_timeout_message)


def schedule_timeout_message(expired: Expired) -> str:
    message = (
        f"ScheduleTimeout: no worker started the task within its schedule_timeout "
        f"({expired.schedule_timeout})"
    )
    workers = expired.worker_pythons
    if workers and expired.python_version not in workers.split(", "):
        message += (
            f"; its code was registered from Python {expired.python_version} but the running "
            f"workers run Python {workers}: start a worker on Python {expired.python_version} "
            "or register the workflow again from this Python"
        )
    return message
