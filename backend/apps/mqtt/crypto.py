"""Encryption of secrets at rest (broker passwords, client keys) with Fernet.

Keys come from settings.FIELD_ENCRYPTION_KEYS: the first encrypts, every key decrypts, so keys can
be rotated (add the new key first, re-save, then drop the old one).
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretDecryptionError(Exception):
    """A stored secret cannot be decrypted with the configured keys."""


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretDecryptionError(
            "stored secret cannot be decrypted: FIELD_ENCRYPTION_KEYS does not hold the key it was "
            "encrypted with"
        ) from None
