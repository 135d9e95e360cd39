"""Which Hatchet engine hatchnb stands in for: code written for hatchet_sdk asks
``await hatchet.aio_get_engine_version()`` and compares it with ``MinEngineVersion`` (with
``semver_less_than``) before it uses a feature. hatchnb answers with the newest engine
version whose features it has, so that code takes the same paths it takes on Hatchet."""

from __future__ import annotations

import re
from enum import StrEnum


class MinEngineVersion(StrEnum):
    """The first Hatchet engine version with a feature (hatchet_sdk's table)."""

    SLOT_CONFIG = "v0.78.23"
    DURABLE_EVICTION = "v0.80.0"
    OBSERVABILITY = "v0.82.0"
    BATCHING = "v0.88.1"
    RETRY_AFTER = "v0.111.0"


#: every feature up to batch tasks is here, traces read back included (``RetryAfterException``
#: is not)
ENGINE_VERSION = MinEngineVersion.BATCHING.value

_SEMVER = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


def parse_semver(version: str) -> tuple[int, int, int]:
    """``"v0.78.23"`` as ``(0, 78, 23)``; a pre-release or build suffix is ignored."""
    found = _SEMVER.match(version.strip())
    if found is None:
        raise ValueError(f"{version!r} is not a version like v1.2.3")
    major, minor, patch = (int(part) for part in found.groups())
    return major, minor, patch


def semver_less_than(a: str, b: str) -> bool:
    """Whether version ``a`` comes strictly before ``b``."""
    return parse_semver(a) < parse_semver(b)
