"""Login throttling (the dashboard's login page): waits per user name and per address."""

from __future__ import annotations

import pytest

from hatchnb.dashboard import throttle
from hatchnb.dashboard.throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def fail(gate: LoginThrottle, times: int, user: str = "alice", address: str = "10.0.0.1") -> None:
    for _ in range(times):
        gate.failed(user, address)


def test_a_user_may_fail_a_few_times_before_waiting(clock: Clock) -> None:
    gate = LoginThrottle(clock=clock)
    fail(gate, throttle.PER_USER - 1)
    assert gate.wait("alice", "10.0.0.1") == 0
    fail(gate, 1)
    assert gate.wait("alice", "10.0.0.1") == throttle.FIRST_WAIT
    assert gate.wait("ALICE", "10.0.0.2") == throttle.FIRST_WAIT  # names are caseless
    assert gate.wait("bob", "10.0.0.1") == 0  # the address is still under its limit


def test_each_failure_after_the_limit_doubles_the_wait_up_to_the_longest(clock: Clock) -> None:
    gate = LoginThrottle(clock=clock)
    fail(gate, throttle.PER_USER + 2)
    assert gate.wait("alice", "x") == 4 * throttle.FIRST_WAIT
    clock.now += 3 * throttle.FIRST_WAIT
    assert gate.wait("alice", "x") == throttle.FIRST_WAIT
    fail(gate, 30)
    assert gate.wait("alice", "x") == throttle.LONGEST_WAIT


def test_one_address_trying_many_names_waits_too(clock: Clock) -> None:
    gate = LoginThrottle(clock=clock)
    for i in range(throttle.PER_ADDRESS):
        gate.failed(f"user{i}", "10.0.0.9")
    assert gate.wait("someone-new", "10.0.0.9") == throttle.FIRST_WAIT
    assert gate.wait("someone-new", "10.0.0.8") == 0


def test_a_right_password_clears_the_users_failures_but_not_the_addresss(clock: Clock) -> None:
    gate = LoginThrottle(per_user=2, per_address=3, clock=clock)
    fail(gate, 2)
    gate.succeeded("Alice")
    assert gate.wait("alice", "elsewhere") == 0
    fail(gate, 1, user="bob")
    assert gate.wait("carol", "10.0.0.1") == throttle.FIRST_WAIT


def test_old_records_are_forgotten_when_there_are_too_many(
    clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle, "MAX_RECORDS", 10)
    gate = LoginThrottle(clock=clock)
    fail(gate, throttle.PER_USER, user="victim")
    clock.now += throttle.FORGET_AFTER + throttle.FIRST_WAIT + 1
    for i in range(6):  # 12 records: user and address of each
        gate.failed(f"spray{i}", f"10.1.0.{i}")
    assert ("user", "victim") not in gate._failures
    assert len(gate._failures) <= 10


def test_the_refusal_rounds_the_wait_up() -> None:
    assert throttle.refusal(12.2) == "Too many failed logins: try again in 13 s."
