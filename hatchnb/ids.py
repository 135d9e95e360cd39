"""Identifiers: time-ordered run ids and derived task run ids."""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterable

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> uuid.UUID:
    """A UUIDv7 (RFC 9562): 48-bit milliseconds then a counter, so ids made by one process
    sort in creation order and land at the right edge of the primary key index."""
    return uuid.UUID(int=_uuid7_int())


def uuid7_text() -> str:
    """``str(uuid7())`` without the UUID object: bulk enqueue makes one per run."""
    digits = _uuid7_int().to_bytes(16, "big").hex()
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def _uuid7_int() -> int:
    global _last_ms, _counter
    ms = time.time_ns() // 1_000_000
    with _lock:
        if ms > _last_ms:
            _last_ms = ms
            _counter = int.from_bytes(os.urandom(8), "big") >> 4  # 60 bits, room to count up
        else:
            ms = _last_ms
            _counter += 1
        counter = _counter
    value = (ms << 80) | (0x7 << 76) | ((counter >> 62) << 64) | (0b10 << 62)
    return value | (counter & ((1 << 62) - 1))


def task_run_external_id(run_id: str | uuid.UUID, task_name: str) -> str:
    """The public id of a task run, derived from its run and name (nothing to store): the
    run id's first 6 bytes (its millisecond) and last 5 (unique among the runs one process
    makes in a millisecond) around 5 bytes of the MD5 of run id and name, with the run id's
    version and variant bits. ``run_locator`` reads the run's bytes back, so a task run is
    found by its id with the indexes on run ids, without an index of its own."""
    raw = (run_id if isinstance(run_id, uuid.UUID) else uuid.UUID(str(run_id))).bytes
    middle = bytearray(hashlib.md5(raw + task_name.encode(), usedforsecurity=False).digest()[:5])
    middle[0] = (middle[0] & 0x0F) | (raw[6] & 0xF0)  # byte 6: the version
    middle[2] = (middle[2] & 0x3F) | (raw[8] & 0xC0)  # byte 8: the variant
    return str(uuid.UUID(bytes=raw[:6] + bytes(middle) + raw[11:]))


def run_locator(task_external_id: str) -> tuple[str, str, bytes]:
    """What a task run id says of its run: the lowest and highest run id of its millisecond,
    and the run id's last 5 bytes."""
    raw = uuid.UUID(task_external_id).bytes
    low = uuid.UUID(bytes=raw[:6] + b"\x00" * 10)
    high = uuid.UUID(bytes=raw[:6] + b"\xff" * 10)
    return str(low), str(high), raw[11:]


_WORKFLOW_NAMESPACE = uuid.UUID("6b1a9f0e-2f4c-5d8e-9a31-7c0e5b2d4f60")


def workflow_id(workflow_name: str) -> str:
    """The public id of a workflow (hatchet_sdk's ``workflow.id``), derived from its name."""
    return str(uuid.uuid5(_WORKFLOW_NAMESPACE, workflow_name))


def is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def run_id_hours(run_ids: Iterable[str | uuid.UUID]) -> list[int]:
    """The id hours of these run ids (hours since the epoch of a UUIDv7's 48-bit time; any
    uuid has one), as ``hatchnb.run_id_hour`` computes them in SQL: the archive files runs
    by them (migrations/0026_history_lookups.sql)."""
    return sorted({(uuid.UUID(str(i)).int >> 80) // 3_600_000 for i in run_ids})
