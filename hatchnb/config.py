"""Settings read from HATCHNB_* environment variables."""

from __future__ import annotations

import dataclasses
import os


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    #: PostgreSQL URL; None means "use the embedded PostgreSQL"
    dsn: str | None
    #: seconds between worker heartbeats
    heartbeat_interval: float = 2.0
    #: a worker silent for this long is dead and its tasks are re-queued
    worker_timeout: float = 15.0
    #: seconds between polls when no notification arrives
    poll_interval: float = 1.0
    #: seconds between engine duty rounds (timeouts, dead workers)
    engine_interval: float = 0.5
    #: seconds a stopping worker waits for running tasks before handing them back
    shutdown_grace: float = 20.0
    #: a durable task waiting longer than this gives its slot back until it is time
    durable_evict_after: float = 15.0
    #: HMAC key: code is signed when registered and workers refuse code not signed with it
    signing_key: str | None = None
    #: largest JSON payload (input or output) accepted, in bytes
    max_payload_bytes: int = 4 * 1024 * 1024
    #: largest pickled output accepted, in bytes
    max_blob_bytes: int = 16 * 1024 * 1024

    @classmethod
    def from_env(cls, dsn: str | None = None) -> Settings:
        return cls(
            dsn=dsn or os.environ.get("HATCHNB_DATABASE_URL") or None,
            heartbeat_interval=_float("HATCHNB_HEARTBEAT_INTERVAL", 2.0),
            worker_timeout=_float("HATCHNB_WORKER_TIMEOUT", 15.0),
            poll_interval=_float("HATCHNB_POLL_INTERVAL", 1.0),
            engine_interval=_float("HATCHNB_ENGINE_INTERVAL", 0.5),
            shutdown_grace=_float("HATCHNB_SHUTDOWN_GRACE", 20.0),
            durable_evict_after=_float("HATCHNB_DURABLE_EVICT_AFTER", 15.0),
            signing_key=os.environ.get("HATCHNB_SIGNING_KEY") or None,
            max_payload_bytes=int(_float("HATCHNB_MAX_PAYLOAD_BYTES", 4 * 1024 * 1024)),
            max_blob_bytes=int(_float("HATCHNB_MAX_BLOB_BYTES", 16 * 1024 * 1024)),
        )
