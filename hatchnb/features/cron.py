"""``hatchet.cron``: crons of registered workflows, and the cron maths (``next_tick``)."""

from __future__ import annotations

import asyncio
import builtins
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

from hatchnb import errors, limits, serialization
from hatchnb.config import Settings
from hatchnb.enqueue import start_run
from hatchnb.features._params import (
    ALL_ROWS,
    json_value,
    metadata_matches,
    metadata_value,
    name_of,
    page,
    refuse_ordering,
    registered_name,
)
from hatchnb.features.rest_compat import ApiClient, WorkflowApi
from hatchnb.records import CronWorkflow, Rows
from hatchnb.store import Store
from hatchnb.store.triggers import CronsRepo, cron_ticks_started_in, lock_cron_in
from hatchnb.store.versions import trigger_target_in


class InvalidCron(errors.HatchnbError, ValueError):
    """The cron expression is not valid."""


#: the most ticks one backfill starts runs for
MAX_BACKFILL_TICKS = 1000


def tick_metadata(cron_id: Any, tick: datetime) -> dict[str, str]:
    """The metadata marking a run as the cron's run for one logical tick (its own or a
    backfill's), so no tick starts two runs."""
    return {
        "hatchnb__cron_id": str(cron_id),
        "hatchnb__cron_tick": tick.astimezone(UTC).isoformat(),
    }


def next_tick(expression: str, tz: str, after: datetime) -> datetime:
    """The first tick of ``expression`` in time zone ``tz`` strictly after ``after`` (UTC)."""
    try:
        zone = ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCron(
            f"unknown time zone {limits.shown(tz)}; use an IANA name like 'Europe/Paris'"
        ) from None
    if not isinstance(expression, str) or not croniter.is_valid(expression):
        raise InvalidCron(
            f"invalid cron expression {limits.shown(expression)}; use five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 3 * * *'"
        )
    try:
        tick: datetime = croniter(expression, after.astimezone(zone)).get_next(datetime)
    except CroniterError as exc:
        raise InvalidCron(
            f"the cron expression {limits.shown(expression)} never fires ({exc}); check the "
            "day-of-month and month fields, e.g. '0 0 30 2 *' asks for February 30"
        ) from None
    return tick.astimezone(UTC)


class CronClient:
    """``hatchet.cron``."""

    def __init__(self, store: Store, settings: Settings) -> None:
        self._store = store
        self._crons = CronsRepo(store)
        self._settings = settings

    def create(
        self,
        workflow_name: Any,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        timezone: str = "UTC",
    ) -> CronWorkflow:
        """A cron for a registered workflow; ticks are computed in ``timezone`` (UTC)."""
        first = next_tick(expression, timezone, datetime.now(tz=UTC))
        cron_name = serialization.check_text(cron_name, "cron_name")
        payload = json_value(input, self._settings.max_payload_bytes)
        metadata = metadata_value(additional_metadata)
        priority = limits.optional_priority(priority)
        return self._crons.upsert_cron(
            registered_name(workflow_name, self._store, "a cron", self._settings.namespace),
            cron_name,
            expression,
            timezone,
            payload,
            metadata,
            priority,
            first,
        )

    async def aio_create(self, *args: Any, **kwargs: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.create, *args, **kwargs)

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        workflow_id: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        order_by_field: Any = None,
        order_by_direction: Any = None,
        workflow_name: Any = None,
        cron_name: str | None = None,
    ) -> Rows[CronWorkflow]:
        """Crons, of one workflow (by id, name or object) or all; hatchet_sdk's parameters.
        ``additional_metadata`` matches crons whose metadata holds those pairs."""
        refuse_ordering(order_by_field, order_by_direction)
        workflow = workflow_id or workflow_name
        name = name_of(workflow, self._store, self._settings.namespace) if workflow else None
        crons = self._crons.list_crons(name, ALL_ROWS, 0)
        crons = [
            c
            for c in crons
            if metadata_matches(c.additional_metadata, additional_metadata)
            and (cron_name is None or c.name == cron_name)
        ]
        return Rows(page(crons, offset, limit if limit is not None else 100))

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[CronWorkflow]:
        return await asyncio.to_thread(self.list, *args, **kwargs)

    def get(self, cron_id: str) -> CronWorkflow:
        return self._crons.get_cron(_id(cron_id))

    def delete(self, cron_id: str) -> None:
        self._crons.delete_cron(_id(cron_id))

    def client(self) -> ApiClient:
        """hatchet_sdk's REST client handle, for the REST calls hatchnb answers
        (``hatchet.cron._wa(client).workflow_cron_trigger``)."""
        return ApiClient(cron=self)

    def _wa(self, client: ApiClient) -> WorkflowApi:
        return WorkflowApi(client)

    def trigger_now(self, cron_id: str) -> str:
        """Start a run of the cron's workflow now, with its input; returns the run id."""
        cron = self.get(cron_id)
        with self._store.transaction() as tx:
            target = trigger_target_in(tx, cron.workflow_name)
            if target is None:
                raise errors.HatchnbError(f"workflow {cron.workflow_name!r} is not registered")
            run_id = start_run(
                tx,
                target,
                cron.input,
                cron.additional_metadata,
                cron.priority,
                {"triggered_by": f"cron:{cron.name} (manual)"},
            )
        return str(run_id)

    def pause(self, cron_id: Any) -> CronWorkflow:
        """Pause one cron: its ticks start no run until ``unpause`` (the workflow's other
        crons and triggers go on)."""
        return self._set_paused(cron_id, True)

    def unpause(self, cron_id: Any) -> CronWorkflow:
        """Let a paused cron fire again, from its next tick (``backfill`` starts the ticks
        missed meanwhile, when they are wanted)."""
        return self._set_paused(cron_id, False)

    async def aio_pause(self, cron_id: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.pause, cron_id)

    async def aio_unpause(self, cron_id: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.unpause, cron_id)

    def _set_paused(self, cron_id: Any, paused: bool) -> CronWorkflow:
        cron = self.get(getattr(cron_id, "id", cron_id))
        resume_at = next_tick(cron.expression, cron.timezone, datetime.now(UTC))
        return self._crons.set_cron_paused(cron.id, paused, resume_at)

    def backfill(self, cron_id: Any, since: datetime, until: datetime) -> builtins.list[str]:
        """Start one run per tick of the cron from ``since`` to ``until`` (both included,
        aware datetimes, ``until`` at most now) that has no run yet: ticks missed while no
        engine ran, or before the cron existed. Each run's metadata holds the cron's id and
        its logical time (``hatchnb__cron_id``, ``hatchnb__cron_tick``), as do the runs the
        cron starts itself; run ids of the new runs, oldest tick first."""
        cron = self.get(getattr(cron_id, "id", cron_id))
        ticks = _ticks(cron.expression, cron.timezone, since, until)
        marks = {tick: tick_metadata(cron.id, tick) for tick in ticks}
        with self._store.transaction() as tx:
            lock_cron_in(tx, cron.id)
            target = trigger_target_in(tx, cron.workflow_name)
            if target is None:
                raise errors.HatchnbError(f"workflow {cron.workflow_name!r} is not registered")
            done = cron_ticks_started_in(
                tx, cron.id, [m["hatchnb__cron_tick"] for m in marks.values()]
            )
            started = [
                start_run(
                    tx,
                    target,
                    cron.input,
                    {**cron.additional_metadata, **mark},
                    cron.priority,
                    {"triggered_by": f"cron:{cron.name} (backfill)"},
                    debounced=False,
                )
                for mark in marks.values()
                if mark["hatchnb__cron_tick"] not in done
            ]
        return [str(r) for r in started]

    async def aio_backfill(
        self, cron_id: Any, since: datetime, until: datetime
    ) -> builtins.list[str]:
        return await asyncio.to_thread(self.backfill, cron_id, since, until)

    # hatchet_sdk's async twins

    async def aio_delete(self, *args: Any, **kwargs: Any) -> None:
        return await asyncio.to_thread(self.delete, *args, **kwargs)

    async def aio_get(self, *args: Any, **kwargs: Any) -> CronWorkflow:
        return await asyncio.to_thread(self.get, *args, **kwargs)


def _id(cron_id: Any) -> str:
    return limits.id_text(cron_id, "a cron id", "CronWorkflow.id")


def _ticks(expression: str, tz: str, since: datetime, until: datetime) -> list[datetime]:
    """The cron's ticks from ``since`` to ``until``, both included."""
    aware = [isinstance(t, datetime) and t.tzinfo is not None for t in (since, until)]
    if not all(aware) or since.year < 2:
        raise errors.InvalidInput(
            "backfill: since and until must be aware datetimes, e.g. datetime.now(UTC)"
        )
    if since > until:
        raise errors.InvalidInput(f"backfill: since ({since}) is after until ({until})")
    if until > datetime.now(UTC):
        raise errors.InvalidInput(
            f"backfill: until ({until}) is in the future; the cron starts those ticks itself"
        )
    ticks: list[datetime] = []
    tick = next_tick(expression, tz, since - timedelta(microseconds=1))
    while tick <= until:
        if len(ticks) == MAX_BACKFILL_TICKS:
            raise errors.InvalidInput(
                f"backfill: more than {MAX_BACKFILL_TICKS} ticks from {since} to {until}; "
                "backfill a shorter range at a time"
            )
        ticks.append(tick)
        tick = next_tick(expression, tz, tick)
    return ticks
