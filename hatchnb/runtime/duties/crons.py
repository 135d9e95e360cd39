"""Engine duty: start the runs of due crons and one-off schedules (and, on the same check,
settle the task runs waiting on conditions)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from hatchnb import errors
from hatchnb.enqueue import start_run
from hatchnb.features.cron import InvalidCron, next_tick, tick_metadata
from hatchnb.runtime.duties import conditions
from hatchnb.store import Tx
from hatchnb.store.engine import DatabaseError, LeaderSession, duty_connection
from hatchnb.store.triggers import (
    advance_cron_in,
    due_crons_in,
    due_scheduled_in,
    mark_scheduled_failed_in,
    mark_scheduled_started_in,
    savepoint,
)
from hatchnb.store.versions import paused_behavior_in, trigger_target_in

log = logging.getLogger("hatchnb.engine")


class DueDuty:
    """Crons, schedules and conditions: one cheap check on the leader's session, the work
    (sync code) on a connection of its own, in a thread."""

    name = "crons, schedules and conditions"
    interval = 0.0

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    async def run(self, session: LeaderSession) -> None:
        due = await session.anything_due()
        if due.due:
            await asyncio.to_thread(self.fire)
        if due.waiting:
            await asyncio.to_thread(conditions.settle_waiting, self.dsn)

    def fire(self) -> None:
        """A cron or schedule that cannot start its run is recorded by ``fire_due`` and
        blocks no other; anything else unexpected is logged, not allowed to end the engine's
        other duties."""
        try:
            with duty_connection(self.dsn) as tx:
                started = fire_due(tx)
        except (DatabaseError, errors.DatabaseUnavailable):
            raise  # the connection: the engine reconnects and tries again
        except Exception:
            log.exception("could not fire due crons and schedules; trying again next round")
            return
        if started:
            log.info("started %d run(s) from crons and schedules", started)


def fire_due(tx: Tx) -> int:
    """Start the runs of due crons and schedules; each tick or schedule fires once, even with
    several engines, because the rows are locked and advanced in the same transaction.
    Missed ticks (everything was down) fire once, then the cron resumes at its next tick.

    Each cron and schedule starts its run on a savepoint of its own: one that cannot (its
    concurrency key fails on the stored input, its workflow is not registered) blocks no
    other. The cron still moves to its next tick and shows why in ``last_error``; the
    schedule is marked failed with its ``error`` and not tried again. A lost connection is
    not such a failure: it rolls the whole round back, to be tried again at the next one."""
    started = 0
    with tx.transaction():
        now = datetime.now(tz=UTC)
        for cron in due_crons_in(tx):
            started += _fire_cron(tx, cron, now)
        for item in due_scheduled_in(tx):
            started += _fire_scheduled(tx, item)
    return started


def _fire_cron(tx: Tx, cron: dict[str, Any], now: datetime) -> int:
    try:
        next_fire_at = next_tick(cron["expression"], cron["timezone"], now)
        then = f"fires again at its next tick ({next_fire_at:%Y-%m-%d %H:%M} UTC)"
    except InvalidCron as exc:  # a stored expression this croniter refuses: retry hourly
        next_fire_at = now + timedelta(hours=1)
        then = f"cannot compute its next tick ({exc}) and is tried again in an hour"
    if paused_behavior_in(tx, cron["workflow_name"], "cron") == "DROP":
        log.info(
            "cron %r: workflow %r is paused, tick dropped", cron["name"], cron["workflow_name"]
        )
        advance_cron_in(tx, cron["id"], now, next_fire_at, None)
        return 0
    # the tick's logical time goes with its run, so a backfill does not start it again
    marked = {
        **cron,
        "additional_metadata": {
            **cron["additional_metadata"],
            **tick_metadata(cron["id"], cron["next_fire_at"]),
        },
    }
    _, error = _start_on_savepoint(tx, marked, {"triggered_by": f"cron:{cron['name']}"})
    if error is not None:
        error = (
            f"cron {cron['name']!r} of workflow {cron['workflow_name']!r} could not start a "
            f"run at {now:%Y-%m-%d %H:%M:%S} UTC: {error}; the cron {then} "
            f"(hatchet.cron.delete('{cron['id']}') removes it)"
        )
        log.warning("%s", error)
    advance_cron_in(tx, cron["id"], now, next_fire_at, error)
    return 1 if error is None else 0


def _fire_scheduled(tx: Tx, item: dict[str, Any]) -> int:
    if paused_behavior_in(tx, item["workflow_name"], "scheduled") == "DROP":
        dropped = (
            f"dropped: workflow {item['workflow_name']!r} was paused with "
            "paused_workflow_scheduled_run_queue_behavior='DROP'"
        )
        mark_scheduled_failed_in(tx, item["id"], dropped)
        return 0
    run_id, error = _start_on_savepoint(tx, item, {"triggered_by": "schedule"})
    if run_id is not None:
        mark_scheduled_started_in(tx, item["id"], run_id)
        return 1
    error = (
        f"the scheduled run of workflow {item['workflow_name']!r} could not start: {error}; "
        f"it is not tried again: fix the cause and call hatchet.scheduled.trigger_now("
        f"'{item['id']}'), or delete it and schedule a new one"
    )
    log.warning("scheduled run %s: %s", item["id"], error)
    mark_scheduled_failed_in(tx, item["id"], error)
    return 0


def _start_on_savepoint(
    tx: Tx, source: dict[str, Any], trigger: dict[str, Any]
) -> tuple[uuid.UUID | None, str | None]:
    """Start the run of a cron tick or schedule on a savepoint: its id, or why it could not
    start (nothing of it is left written then)."""
    workflow_name = source["workflow_name"]
    try:
        with savepoint(tx):
            target = trigger_target_in(tx, workflow_name)
            if target is None:
                return None, (
                    f"workflow {workflow_name!r} is not registered; register it (start a "
                    "worker with it, or call hatchet.register)"
                )
            run_id = start_run(
                tx,
                target,
                source["input"],
                source["additional_metadata"],
                source["priority"],
                trigger,
            )
    except errors.DatabaseUnavailable:
        raise  # the connection, not this item: the whole round is tried again
    except Exception as exc:
        return None, f"{type(exc).__name__}: {exc}"
    return run_id, None
