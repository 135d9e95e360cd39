"""Password hashes of dashboard users (scrypt) and the checks on names and roles."""

from __future__ import annotations

import pytest

from hatchnb import errors, passwords
from hatchnb.features.users import check_name, check_role
from hatchnb.records import Role

#: a low cost keeps these tests fast; the format stores it, so verification reads it back
CHEAP = 2**10


def test_a_hash_verifies_its_password_only() -> None:
    stored = passwords.hash_password("correct horse", cost=CHEAP)
    assert stored.startswith(f"scrypt${CHEAP}$8$1$")
    assert "correct horse" not in stored
    assert passwords.verify_password("correct horse", stored)
    assert not passwords.verify_password("correct hors", stored)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert passwords.hash_password("s3cret-pw", cost=CHEAP) != passwords.hash_password(
        "s3cret-pw", cost=CHEAP
    )


def test_the_default_cost_is_owasps_minimum() -> None:
    assert (passwords.COST, passwords.BLOCK_SIZE, passwords.PARALLELISM) == (2**17, 8, 1)


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "md5$1$2$3$4$5", "scrypt$x$8$1$AAAA$AAAA", "scrypt$1024$8$1$!!$AAAA"],
)
def test_malformed_hashes_verify_nothing(stored: str) -> None:
    assert not passwords.verify_password("anything", stored)


def test_short_and_huge_passwords_are_refused() -> None:
    with pytest.raises(passwords.WeakPassword, match="at least 8"):
        passwords.hash_password("short", cost=CHEAP)
    with pytest.raises(passwords.WeakPassword, match="at most 1024"):
        passwords.hash_password("x" * 1025, cost=CHEAP)
    stored = passwords.hash_password("x" * 1024, cost=CHEAP)
    assert not passwords.verify_password("x" * 5000, stored)


@pytest.mark.parametrize("name", ["", "a b", "tab\there", "x" * 65, "nul\x00"])
def test_user_names_are_short_printable_and_without_spaces(name: str) -> None:
    with pytest.raises(errors.InvalidUser, match="user name"):
        check_name(name)


def test_roles_are_viewer_operator_or_admin() -> None:
    assert check_role("operator") is Role.OPERATOR
    with pytest.raises(errors.InvalidUser, match="choose one of viewer, operator, admin"):
        check_role("root")
