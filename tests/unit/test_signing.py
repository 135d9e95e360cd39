"""Code and output signatures (issue 19, finding 6): code is signed for its workflow name,
version hash and task names; older keys verify during a rotation."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from hatchnb import errors, serialization, signing
from hatchnb.config import Settings

CODE = b"pickled code"
ETL = signing.CodeIdentity("etl", "hash-1", ("extract", "load"))
KEYS = signing.SigningKeys("k-new")


def _check(
    signature: str | None,
    identity: signing.CodeIdentity = ETL,
    keys: signing.SigningKeys = KEYS,
    blob: bytes = CODE,
) -> None:
    signing.check_code(blob, signature, identity, keys, 7)


def test_code_signed_for_its_workflow_is_accepted() -> None:
    signature = signing.sign_code(CODE, ETL, KEYS)
    assert signature is not None and signature.startswith("v2:")
    _check(signature)
    # the task names are a set: their order in the spec does not matter
    _check(signature, signing.CodeIdentity("etl", "hash-1", ("load", "extract")))


def test_without_a_key_nothing_is_signed_or_checked() -> None:
    assert signing.sign_code(CODE, ETL, signing.SigningKeys()) is None
    _check(None, keys=signing.SigningKeys())
    _check("garbage", keys=signing.SigningKeys(None, ("old",)))  # previous keys alone: off


@pytest.mark.parametrize(
    ("where", "identity", "blob"),
    [
        ("another workflow", signing.CodeIdentity("payroll", "hash-1", ETL.task_names), CODE),
        ("another version", signing.CodeIdentity("etl", "hash-2", ETL.task_names), CODE),
        ("renamed tasks", signing.CodeIdentity("etl", "hash-1", ("extract", "pay")), CODE),
        ("changed code", ETL, CODE + b"\x00"),
    ],
)
def test_signed_code_moved_or_changed_is_refused(
    where: str, identity: signing.CodeIdentity, blob: bytes
) -> None:
    signature = signing.sign_code(CODE, ETL, KEYS)
    with pytest.raises(errors.IncompatibleCode, match="does not match its code, workflow name"):
        _check(signature, identity, blob=blob)


def test_unsigned_code_is_refused_by_a_worker_with_a_key() -> None:
    with pytest.raises(
        errors.IncompatibleCode, match=r"version 7 \(workflow 'etl'\) is not signed"
    ):
        _check(None)


def test_an_older_signature_of_the_pickle_alone_is_refused_saying_how_to_re_sign() -> None:
    older = hmac.new(b"k-new", CODE, hashlib.sha256).hexdigest()
    with pytest.raises(errors.IncompatibleCode, match=r"older signature .* register the workflow"):
        _check(older)


def test_a_previous_key_verifies_during_a_rotation_and_never_signs() -> None:
    old = signing.sign_code(CODE, ETL, signing.SigningKeys("k-old"))
    rotating = signing.SigningKeys("k-new", ("k-old",))
    _check(old, keys=rotating)
    with pytest.raises(errors.IncompatibleCode, match="signed with another key"):
        _check(old, keys=KEYS)  # the rotation window is over
    assert signing.sign_code(CODE, ETL, rotating) == signing.sign_code(CODE, ETL, KEYS)


def test_pickled_outputs_verify_under_a_previous_key() -> None:
    _, blob = serialization.dump_output({1, 2}, 1000, 1000, key="k-old")
    assert blob is not None
    assert serialization.load_output(None, blob, signing.SigningKeys("k-new", ("k-old",))) == {1, 2}
    with pytest.raises(errors.SerializationError, match="HATCHNB_SIGNING_KEY_PREVIOUS"):
        serialization.load_output(None, blob, "k-new")


def test_a_claim_uses_signed_code_only_as_the_task_it_was_signed_for() -> None:
    signing.check_claim(ETL, "etl", "load", 7)
    signing.check_claim(None, "anything", "goes", 7)  # local or unsigned code (no key)
    with pytest.raises(errors.IncompatibleCode, match="signed for workflow 'etl'"):
        signing.check_claim(ETL, "payroll", "load", 7)
    with pytest.raises(errors.IncompatibleCode, match="not its own"):
        signing.check_claim(ETL, "etl", "pay", 7)


def test_task_names_come_from_the_spec_tasks_and_hooks() -> None:
    spec = {"tasks": [{"name": "b"}, {"name": "a"}], "hooks": [{"name": "on_failure"}]}
    assert signing.spec_task_names(spec) == ("a", "b", "on_failure")


def test_previous_keys_come_from_a_comma_list_and_stay_out_of_reprs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HATCHNB_SIGNING_KEY", "k-new")
    monkeypatch.setenv("HATCHNB_SIGNING_KEY_PREVIOUS", " k-old , k-older,")
    settings = Settings.from_env()
    assert settings.signing_keys == signing.SigningKeys("k-new", ("k-old", "k-older"))
    assert "k-" not in repr(settings) and "k-" not in repr(settings.signing_keys)
