"""Login throttling: after a few wrong passwords for one user name, or more from one
address, the next attempt waits 30 s, and each wrong one after it twice as long (up to 15
minutes).

A locked-out attempt is refused without looking at the password, so guessing during the
wait gains nothing. The counts live in the dashboard process and are forgotten 15 minutes
after the last failure (or at a restart)."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable

#: failures a user name may have before each further attempt waits
PER_USER = 5
#: failures one address may have (over all user names) before each further attempt waits
PER_ADDRESS = 20
FIRST_WAIT = 30.0
LONGEST_WAIT = 900.0
#: a record this long past its last failure (and its wait) is dropped
FORGET_AFTER = 900.0
#: records kept at most; the oldest go first beyond it (a spray of made-up user names)
MAX_RECORDS = 10_000


@dataclasses.dataclass
class _Failures:
    count: int = 0
    last: float = 0.0


class LoginThrottle:
    """Counts failed logins per user name and per address; ``wait()`` says how long the
    next attempt must wait (0: it may try now)."""

    def __init__(
        self,
        *,
        per_user: int = PER_USER,
        per_address: int = PER_ADDRESS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"user": per_user, "address": per_address}
        self._clock = clock
        self._failures: dict[tuple[str, str], _Failures] = {}

    def wait(self, user: str, address: str) -> float:
        """Seconds until ``user`` from ``address`` may try again (0: now)."""
        now = self._clock()
        return max(self._remaining(key, now) for key in self._keys(user, address))

    def failed(self, user: str, address: str) -> None:
        now = self._clock()
        for key in self._keys(user, address):
            record = self._failures.setdefault(key, _Failures())
            record.count += 1
            record.last = now
        if len(self._failures) > MAX_RECORDS:
            self._forget(now)

    def succeeded(self, user: str) -> None:
        """A right password clears its user name's failures (not its address's)."""
        self._failures.pop(("user", user.casefold()), None)

    def _keys(self, user: str, address: str) -> tuple[tuple[str, str], ...]:
        return (("user", user.casefold()), ("address", address))

    def _remaining(self, key: tuple[str, str], now: float) -> float:
        record = self._failures.get(key)
        if record is None:
            return 0.0
        return max(0.0, record.last + self._delay(key[0], record.count) - now)

    def _delay(self, kind: str, failures: int) -> float:
        over = failures - self._limits[kind]
        return 0.0 if over < 0 else min(FIRST_WAIT * 2.0**over, LONGEST_WAIT)

    def _forget(self, now: float) -> None:
        """Drop records past their wait and ``FORGET_AFTER``; if that is not enough, the
        oldest, down to half of ``MAX_RECORDS``."""
        for key, record in list(self._failures.items()):
            if now - record.last > FORGET_AFTER + self._delay(key[0], record.count):
                del self._failures[key]
        if len(self._failures) > MAX_RECORDS:
            oldest_first = sorted(self._failures, key=lambda key: self._failures[key].last)
            for key in oldest_first[: len(oldest_first) - MAX_RECORDS // 2]:
                del self._failures[key]


def refusal(seconds: float) -> str:
    """What the login page says to someone who must wait."""
    return f"Too many failed logins: try again in {math.ceil(seconds)} s."
