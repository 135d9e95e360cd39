"""Password hashes of dashboard users: scrypt (``hashlib.scrypt``), stored as
``scrypt$<n>$<r>$<p>$<salt>$<hash>`` (base64 salt and hash). The cost is stored with each
hash, so raising it later leaves old hashes verifiable."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

#: OWASP's minimum for scrypt: N=2**17, r=8, p=1 (128 MiB and about 0.4 s per hash)
COST = 2**17
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
HASH_BYTES = 32
#: what scrypt may use: 128 * r * N bytes, plus room
MAX_MEMORY = 2**28
MIN_LENGTH = 8
MAX_LENGTH = 1024


class WeakPassword(ValueError):
    """A password shorter than MIN_LENGTH, or longer than MAX_LENGTH."""


def check_password(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"the password needs at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"the password may have at most {MAX_LENGTH} characters")


def hash_password(password: str, cost: int = COST) -> str:
    """A new salted scrypt hash of ``password``."""
    check_password(password)
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password, salt, cost, BLOCK_SIZE, PARALLELISM)
    return "$".join(
        ["scrypt", str(cost), str(BLOCK_SIZE), str(PARALLELISM), _b64(salt), _b64(digest)]
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` was made from (False for a malformed or
    unknown hash format, and for oversized passwords)."""
    try:
        scheme, cost, block, parallel, salt, digest = stored.split("$")
        if scheme != "scrypt" or len(password) > MAX_LENGTH:
            return False
        given = _scrypt(password, _unb64(salt), int(cost), int(block), int(parallel))
        return hmac.compare_digest(given, _unb64(digest))
    except ValueError:
        return False


def burn_time(password: str) -> None:
    """Spend what a real check costs, for a user name that does not exist: answering faster
    would tell an attacker which names do."""
    _scrypt(password[:MAX_LENGTH], b"\0" * SALT_BYTES, COST, BLOCK_SIZE, PARALLELISM)


def _scrypt(password: str, salt: bytes, cost: int, block: int, parallel: int) -> bytes:
    return hashlib.scrypt(
        password.encode(),
        salt=salt,
        n=cost,
        r=block,
        p=parallel,
        maxmem=MAX_MEMORY,
        dklen=HASH_BYTES,
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode(), validate=True)
