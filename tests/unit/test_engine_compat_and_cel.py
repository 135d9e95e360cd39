"""hatchet_sdk's engine version checks and CEL debugger, without a database."""

from __future__ import annotations

import pytest

from hatchnb import CELFailure, CELSuccess
from hatchnb.engine_compat import ENGINE_VERSION, MinEngineVersion, semver_less_than
from hatchnb.features.cel import CELClient


def test_semver_compares_numerically_and_ignores_suffixes() -> None:
    assert semver_less_than("v0.9.0", "v0.78.23")
    assert not semver_less_than("v0.88.1", "v0.88.1")
    assert semver_less_than("0.88.1-rc.1", "v0.88.2")
    with pytest.raises(ValueError, match="not a version"):
        semver_less_than("latest", "v0.1.0")


def test_the_reported_engine_has_batching_but_not_retry_after() -> None:
    assert not semver_less_than(ENGINE_VERSION, MinEngineVersion.BATCHING)
    assert not semver_less_than(ENGINE_VERSION, MinEngineVersion.DURABLE_EVICTION)
    assert semver_less_than(ENGINE_VERSION, MinEngineVersion.RETRY_AFTER)


def test_cel_debug_gives_the_value_or_why_there_is_none() -> None:
    cel = CELClient()
    ok = cel.debug("input.n > 1 && payload.on", {"n": 2}, filter_payload={"on": True})
    assert ok.result == CELSuccess(output=True)
    assert cel.debug("additional_metadata.k == 'v'", {}, {"k": "v"}).result.status == "success"
    broken = cel.debug("input.n >", {"n": 2}).result
    assert isinstance(broken, CELFailure) and "invalid CEL expression" in broken.error
    not_bool = cel.debug("input.n", {"n": 2}).result
    assert isinstance(not_bool, CELFailure) and "not a boolean" in not_bool.error
