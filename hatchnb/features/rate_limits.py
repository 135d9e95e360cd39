"""``hatchet.rate_limits``: static limits and the current usage of every key."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from hatchnb import errors, limits
from hatchnb.features._params import page
from hatchnb.flow_control import RateLimitDuration
from hatchnb.records import RateLimitUsage, Rows
from hatchnb.store import Store
from hatchnb.store.flow import RateLimitsRepo


class RateLimitsClient:
    """``hatchet.rate_limits``: set limits and read their current usage."""

    def __init__(self, store: Store) -> None:
        self._limits = RateLimitsRepo(store)

    def put(
        self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND
    ) -> None:
        """Create or change a static rate limit."""
        key = limits.check_name(key, "rate limit key")
        limit = limits.whole_number(
            limit, f"rate limit {limits.shown(key)}: limit", 1, limits.INT_MAX
        )
        self._limits.put(key, limit, _duration(duration).value)

    async def aio_put(
        self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND
    ) -> None:
        await asyncio.to_thread(self.put, key, limit, duration)

    def list(
        self,
        offset: int | None = None,
        limit: int | None = None,
        search: str | None = None,
        order_by_field: str | None = None,
        order_by_direction: str | None = None,
    ) -> Rows[RateLimitUsage]:
        """Every key's limit and current usage (``.rows`` too), by key unless
        ``order_by_field`` says ``value`` (units left) or ``limitValue``; ``search`` keeps
        the keys containing it."""
        found = [u for u in self._limits.usage() if not search or search in u.key]
        field = _ORDER_FIELDS.get(str(getattr(order_by_field, "value", order_by_field) or "key"))
        if field is None:
            raise errors.InvalidArgument(
                f"order_by_field={limits.shown(order_by_field)}: use one of "
                f"{', '.join(_ORDER_FIELDS)}"
            )
        direction = str(getattr(order_by_direction, "value", order_by_direction) or "asc")
        if direction.lower() not in ("asc", "desc"):
            raise errors.InvalidArgument(
                f"order_by_direction={limits.shown(order_by_direction)}: use asc or desc"
            )
        found.sort(key=field, reverse=direction.lower() == "desc")
        return Rows(page(found, offset, limit))

    async def aio_list(self, *args: Any, **kwargs: Any) -> Rows[RateLimitUsage]:
        return await asyncio.to_thread(self.list, *args, **kwargs)


#: hatchet_sdk's RateLimitOrderByField values, and what they sort by
_ORDER_FIELDS: dict[str, Callable[[RateLimitUsage], Any]] = {
    "key": lambda u: u.key,
    "value": lambda u: u.value,
    "limitValue": lambda u: u.limit_value,
}


def _duration(duration: Any) -> RateLimitDuration:
    try:
        return RateLimitDuration(duration)
    except ValueError:
        known = ", ".join(d.name for d in RateLimitDuration)
        raise errors.InvalidArgument(
            f"duration={limits.shown(duration)}: use a RateLimitDuration ({known})"
        ) from None
