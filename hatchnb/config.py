"""Settings read from HATCHNB_* environment variables."""

from __future__ import annotations

import dataclasses
import os
import re
from datetime import timedelta

from hatchnb import signing

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNIT_SECONDS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}


def _optional_float(name: str) -> float | None:
    return _float(name, 0.0) if os.environ.get(name) else None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None


def parse_duration(text: str) -> timedelta | None:
    """``30d``, ``12h``, ``1h30m``, ``90s`` or a number of seconds; ``0``/``off`` is None."""
    raw = text.strip().lower()
    if raw in ("0", "off", "none", "false"):
        return None
    try:
        seconds = float(raw)
    except ValueError:
        parts = _DURATION_PART.findall(raw)
        if not parts or "".join(n + u for n, u in parts) != raw:
            raise ValueError(
                f"{text!r} is not a duration: write e.g. 30d, 12h, 1h30m, 90s or 0/off"
            ) from None
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds < 0:
        raise ValueError(f"{text!r} is negative: write a duration such as 30d, or 0/off")
    return timedelta(seconds=seconds) if seconds > 0 else None


def _duration(name: str, default: timedelta | None) -> timedelta | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return parse_duration(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


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
    #: hatchet_sdk's namespace (ClientConfig.namespace): prefixes workflow and event key names
    namespace: str = ""
    #: seconds between engine duty rounds (timeouts, dead workers)
    engine_interval: float = 0.5
    #: seconds a stopping worker waits for running tasks before handing them back
    #: seconds a stopping worker lets running tasks finish (None: until they finish)
    shutdown_grace: float | None = None
    #: a durable task waiting longer than this gives its slot back until it is time
    durable_evict_after: float = 15.0
    #: seconds a durable task run waits before a worker with full durable slots may evict it
    durable_capacity_min_wait: float = 10.0
    #: HMAC key: code is signed when registered and workers refuse code not signed with it
    signing_key: str | None = dataclasses.field(default=None, repr=False)
    #: older keys still accepted when verifying, during a key rotation (never used to sign)
    previous_signing_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: key that encrypts webhook signing secrets at rest (docs/security.md); None: stored plain
    secrets_key: str | None = dataclasses.field(default=None, repr=False)
    #: older secrets keys that still decrypt, during a key rotation (never encrypt)
    previous_secrets_keys: tuple[str, ...] = dataclasses.field(default=(), repr=False)
    #: largest JSON payload (input or output) accepted, in bytes
    max_payload_bytes: int = 4 * 1024 * 1024
    #: largest pickled output accepted, in bytes
    max_blob_bytes: int = 16 * 1024 * 1024
    #: finished runs older than this are pruned (None: never)
    retention: timedelta | None = timedelta(days=30)
    #: the engine leader starts a retention pass at most this often
    retention_interval: timedelta = timedelta(minutes=10)
    #: runs deleted per retention batch (each batch is one short transaction)
    retention_batch: int = 1000
    #: finished run trees older than this move to the partitioned history tables (None: never)
    archive_after: timedelta | None = timedelta(hours=1)
    #: seconds between the engine leader's archive passes
    archive_interval: float = 60.0
    #: run trees moved per archive batch (each batch is one short transaction)
    archive_batch: int = 500
    #: port of the worker's /health and /metrics (None: no health check server)
    healthcheck_port: int | None = None

    @property
    def signing_keys(self) -> signing.SigningKeys:
        return signing.SigningKeys(self.signing_key, self.previous_signing_keys)

    @classmethod
    def from_env(cls, dsn: str | None = None) -> Settings:
        return cls(
            dsn=dsn or os.environ.get("HATCHNB_DATABASE_URL") or None,
            heartbeat_interval=_float("HATCHNB_HEARTBEAT_INTERVAL", 2.0),
            worker_timeout=_float("HATCHNB_WORKER_TIMEOUT", 15.0),
            poll_interval=_float("HATCHNB_POLL_INTERVAL", 1.0),
            engine_interval=_float("HATCHNB_ENGINE_INTERVAL", 0.5),
            shutdown_grace=_optional_float("HATCHNB_SHUTDOWN_GRACE"),
            durable_evict_after=_float("HATCHNB_DURABLE_EVICT_AFTER", 15.0),
            durable_capacity_min_wait=_float("HATCHNB_DURABLE_CAPACITY_MIN_WAIT", 10.0),
            signing_key=os.environ.get("HATCHNB_SIGNING_KEY") or None,
            previous_signing_keys=signing.SigningKeys.from_text(
                None, os.environ.get("HATCHNB_SIGNING_KEY_PREVIOUS")
            ).previous,
            secrets_key=os.environ.get("HATCHNB_SECRETS_KEY") or None,
            previous_secrets_keys=tuple(
                k.strip()
                for k in os.environ.get("HATCHNB_SECRETS_KEY_PREVIOUS", "").split(",")
                if k.strip()
            ),
            max_payload_bytes=int(_float("HATCHNB_MAX_PAYLOAD_BYTES", 4 * 1024 * 1024)),
            max_blob_bytes=int(_float("HATCHNB_MAX_BLOB_BYTES", 16 * 1024 * 1024)),
            retention=_duration("HATCHNB_RETENTION", timedelta(days=30)),
            retention_interval=_duration("HATCHNB_RETENTION_INTERVAL", None)
            or timedelta(minutes=10),
            retention_batch=max(1, int(_float("HATCHNB_RETENTION_BATCH", 1000))),
            archive_after=_duration("HATCHNB_ARCHIVE_AFTER", timedelta(hours=1)),
            archive_interval=_float("HATCHNB_ARCHIVE_INTERVAL", 60.0),
            archive_batch=max(1, int(_float("HATCHNB_ARCHIVE_BATCH", 500))),
            healthcheck_port=_healthcheck_port(),
        )


def _healthcheck_port() -> int | None:
    """hatchet_sdk's HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED / _PORT (default 8001), or
    HATCHNB_WORKER_HEALTHCHECK_PORT alone."""
    own = os.environ.get("HATCHNB_WORKER_HEALTHCHECK_PORT")
    enabled = os.environ.get("HATCHET_CLIENT_WORKER_HEALTHCHECK_ENABLED", "").lower()
    if not own and enabled not in ("true", "1", "yes"):
        return None
    name = "HATCHNB_WORKER_HEALTHCHECK_PORT" if own else "HATCHET_CLIENT_WORKER_HEALTHCHECK_PORT"
    raw = own or os.environ.get(name) or "8001"
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ValueError(f"{name}={raw!r}: use a TCP port number, e.g. 8001")
    return int(raw)
