"""HMAC-SHA256 signatures of shipped code and pickled outputs (``HATCHNB_SIGNING_KEY``).

Code is signed for where it belongs: the signature covers the workflow's name, the version's
content hash and its task names as well as the pickle, so signed code copied into another
workflow's version row, or under renamed tasks, is refused (issue 19, finding 6).
``HATCHNB_SIGNING_KEY_PREVIOUS`` lists keys that still verify during a key rotation."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
from collections.abc import Iterable
from typing import Any

from hatchnb import errors

#: the prefix of a code signature that binds the code to its workflow; a bare hex digest is
#: the older form, which covered the pickle bytes alone
CODE_SIGNATURE_PREFIX = "v2:"
_CODE_DOMAIN = b"hatchnb workflow code v2\n"


@dataclasses.dataclass(frozen=True)
class SigningKeys:
    """The key that signs and verifies, and older keys that still verify (a rotation)."""

    #: signs new code and outputs; None: nothing is signed or checked
    current: str | None = None
    #: accepted when verifying, never used to sign
    previous: tuple[str, ...] = ()

    @classmethod
    def of(cls, keys: str | SigningKeys | None) -> SigningKeys:
        return keys if isinstance(keys, SigningKeys) else cls(current=keys or None)

    @classmethod
    def from_text(cls, current: str | None, previous: str | None) -> SigningKeys:
        """From ``HATCHNB_SIGNING_KEY`` and ``HATCHNB_SIGNING_KEY_PREVIOUS`` (comma-separated)."""
        older = tuple(k.strip() for k in (previous or "").split(",") if k.strip())
        return cls(current=current or None, previous=older)

    def verifying(self) -> tuple[str, ...]:
        """The keys a signature may match; none without a current key (nothing checked)."""
        return (self.current, *self.previous) if self.current else ()

    def __repr__(self) -> str:  # keys are secrets: never in logs or tracebacks
        return (
            f"SigningKeys(current={'***' if self.current else None}, previous={len(self.previous)})"
        )


def mac(key: str, message: bytes) -> str:
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()


def matches(signature: str, message: bytes, keys: SigningKeys) -> bool:
    """Whether ``signature`` is the MAC of ``message`` under any verifying key."""
    return any(hmac.compare_digest(signature, mac(k, message)) for k in keys.verifying())


# ---- code -----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CodeIdentity:
    """What a signature binds a pickle to: its workflow, its version and its task names."""

    workflow_name: str
    content_hash: str
    task_names: tuple[str, ...]

    def message(self, blob: bytes) -> bytes:
        header = json.dumps(
            [self.workflow_name, self.content_hash, sorted(self.task_names)],
            separators=(",", ":"),
        )
        return _CODE_DOMAIN + header.encode() + b"\n" + blob


def spec_task_names(spec: dict[str, Any]) -> tuple[str, ...]:
    """The task names a version's spec declares (tasks, then on-failure/on-success hooks)."""
    entries: Iterable[dict[str, Any]] = [*spec.get("tasks", []), *spec.get("hooks", [])]
    return tuple(sorted(str(entry.get("name")) for entry in entries))


def sign_code(blob: bytes, identity: CodeIdentity, keys: SigningKeys) -> str | None:
    """The signature stored with a version, or None without a key."""
    if not keys.current:
        return None
    return CODE_SIGNATURE_PREFIX + mac(keys.current, identity.message(blob))


def check_code(
    blob: bytes, signature: str | None, identity: CodeIdentity, keys: SigningKeys, version_id: int
) -> None:
    """A worker with a key runs only code signed, with one of its keys, for this very
    workflow, version and task names; anything else is refused before it is unpickled."""
    if not keys.verifying():
        return
    where = f"workflow version {version_id} (workflow {identity.workflow_name!r})"
    if signature is None:
        raise errors.IncompatibleCode(
            f"{where} is not signed, and this worker has HATCHNB_SIGNING_KEY set: register the "
            "workflow from a client with the same key"
        )
    if not signature.startswith(CODE_SIGNATURE_PREFIX):
        raise errors.IncompatibleCode(
            f"{where} carries an older signature that covers its code but not the workflow it "
            "belongs to, so it is no longer accepted; register the workflow again from a "
            "client with HATCHNB_SIGNING_KEY (hatchet.register(workflow)) to sign it for its "
            "workflow; it was not run"
        )
    if not matches(signature.removeprefix(CODE_SIGNATURE_PREFIX), identity.message(blob), keys):
        raise errors.IncompatibleCode(
            f"{where} has a signature that does not match its code, workflow name, version "
            "hash and task names under this worker's HATCHNB_SIGNING_KEY (or "
            "HATCHNB_SIGNING_KEY_PREVIOUS): the code was changed, moved from another workflow "
            "or version, or signed with another key; it was not run"
        )


def check_claim(
    identity: CodeIdentity | None, workflow_name: str, task_name: str, version_id: int
) -> None:
    """A claimed task run may use signed code only as the task it was signed for."""
    if identity is None:
        return
    if workflow_name != identity.workflow_name or task_name not in identity.task_names:
        raise errors.IncompatibleCode(
            f"task {task_name!r} of workflow {workflow_name!r} points at workflow version "
            f"{version_id}, whose code is signed for workflow {identity.workflow_name!r} "
            f"(tasks {', '.join(identity.task_names)}): a run was pointed at code that is not "
            "its own; it was not run"
        )
