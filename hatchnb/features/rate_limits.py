"""``hatchet.rate_limits``: static limits and the current usage of every key."""

from __future__ import annotations

import asyncio

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
        if not key:
            raise ValueError("a rate limit needs a non-empty key")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValueError(f"rate limit {key!r}: limit={limit!r}, use a positive number")
        self._limits.put(key, limit, RateLimitDuration(duration).value)

    async def aio_put(
        self, key: str, limit: int, duration: RateLimitDuration = RateLimitDuration.SECOND
    ) -> None:
        await asyncio.to_thread(self.put, key, limit, duration)

    def list(self) -> list[RateLimitUsage]:
        return self._limits.usage()
