"""``hatchet.rate_limits``: static limits and the current usage of every key."""

from __future__ import annotations

import asyncio
from typing import Any

from hatchnb import errors, limits
from hatchnb.flow_control import RateLimitDuration
from hatchnb.records import RateLimitUsage
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

    def list(self) -> list[RateLimitUsage]:
        return self._limits.usage()


def _duration(duration: Any) -> RateLimitDuration:
    try:
        return RateLimitDuration(duration)
    except ValueError:
        known = ", ".join(d.name for d in RateLimitDuration)
        raise errors.InvalidArgument(
            f"duration={limits.shown(duration)}: use a RateLimitDuration ({known})"
        ) from None
