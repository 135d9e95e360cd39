"""How webhook secrets rest in the database (docs/security.md, "Webhook secrets").

Two kinds of secret, two treatments:

- a secret that is only *compared* (a basic-auth password, an API key) is stored as a salted
  SHA-256 digest, so the table never holds it;
- a secret that must be *used* (an HMAC signing secret: the signature is recomputed from the
  body) is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under a key derived from
  ``HATCHNB_SECRETS_KEY`` when that is set, and stored as text marked ``plain:`` otherwise.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from hatchnb import errors

_HASHED = "sha256:"
_SEALED = "fernet:"
_PLAIN = "plain:"


def hash_secret(secret: str) -> str:
    """A salted digest of a secret that is only ever compared."""
    salt = secrets.token_hex(16)
    return f"{_HASHED}{salt}:{_digest(salt, secret)}"


def matches_hash(candidate: str, stored: str) -> bool:
    """Whether ``candidate`` is the secret ``stored`` was made from (constant time)."""
    if not stored.startswith(_HASHED):
        raise errors.ConfigurationError(
            "a stored webhook secret is not a hash; recreate the webhook"
        )
    salt, _, digest = stored.removeprefix(_HASHED).partition(":")
    return hmac.compare_digest(_digest(salt, candidate), digest)


def _digest(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


class SecretBox:
    """Seals and opens HMAC signing secrets with the key from settings (or none); the
    previous keys only open, during a key rotation."""

    def __init__(self, key: str | None, previous: tuple[str, ...] = ()) -> None:
        if previous and not key:
            raise errors.ConfigurationError(
                "HATCHNB_SECRETS_KEY_PREVIOUS is set without HATCHNB_SECRETS_KEY: set the new "
                "key too (previous keys only decrypt)"
            )
        keys = [Fernet(_fernet_key(k)) for k in (key, *previous) if k]
        self._fernet = MultiFernet(keys) if keys else None

    @property
    def encrypts(self) -> bool:
        return self._fernet is not None

    def seal(self, secret: str) -> str:
        if self._fernet is None:
            return _PLAIN + secret
        return _SEALED + self._fernet.encrypt(secret.encode()).decode("ascii")

    def open(self, sealed: str) -> str:
        if sealed.startswith(_PLAIN):
            return sealed.removeprefix(_PLAIN)
        if not sealed.startswith(_SEALED):
            raise errors.ConfigurationError(
                "a stored webhook signing secret has an unknown form; recreate the webhook"
            )
        if self._fernet is None:
            raise errors.ConfigurationError(
                "this webhook's signing secret was encrypted with HATCHNB_SECRETS_KEY, which "
                "is not set in this process: set the same key here"
            )
        try:
            return self._fernet.decrypt(sealed.removeprefix(_SEALED)).decode()
        except InvalidToken:
            raise errors.ConfigurationError(
                "this webhook's signing secret was encrypted with another HATCHNB_SECRETS_KEY: "
                "set the key it was created with (or list it in HATCHNB_SECRETS_KEY_PREVIOUS), "
                "or recreate the webhook"
            ) from None

    def reseal(self, sealed: str) -> str:
        """The secret sealed under the current key (for rotating keys)."""
        return self.seal(self.open(sealed))


def _fernet_key(key: str) -> bytes:
    """Any text works as HATCHNB_SECRETS_KEY: Fernet's 32-byte key is derived from it."""
    derived = hashlib.sha256(b"hatchnb webhook secrets\x00" + key.encode()).digest()
    return base64.urlsafe_b64encode(derived)
