"""Field-level encryption: Fernet (AES-128-CBC + HMAC-SHA256) with MultiFernet for key rotation.

Keys come from ``FIELD_ENCRYPTION_KEY`` (comma-separated, newest first). New values are always
encrypted with the newest key; older keys still decrypt until every row has been re-encrypted
with the newest one.
"""

from __future__ import annotations

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@cache
def _fernet_for(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEY is invalid: each key must be 32 url-safe base64-encoded bytes "
            "(generate one with `python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'`)."
        ) from exc


def fernet() -> MultiFernet:
    return _fernet_for(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken as exc:
        # Never include the token: it may be a credential encrypted under a lost key.
        raise ImproperlyConfigured(
            "An encrypted value could not be decrypted with any FIELD_ENCRYPTION_KEY; "
            "was a key removed before every row was re-encrypted?"
        ) from exc


def rotate(token: str) -> str:
    """Re-encrypt a stored token with the newest key."""
    return fernet().rotate(token.encode("ascii")).decode("ascii")
