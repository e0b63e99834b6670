"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) with keys from FIELD_ENCRYPTION_KEYS.

The first key encrypts; every key decrypts, so keys rotate by prepending a new one and re-saving.
"""

from __future__ import annotations

import json
from functools import cache
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from providers.base import SECRET_MASK


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(key.encode()) for key in keys])


def fernet() -> MultiFernet:
    return _fernet(tuple(settings.FIELD_ENCRYPTION_KEYS))


class Secrets(dict[str, str]):
    """Decrypted secrets. Printing, logging or rendering one shows masks, never the values."""

    def __repr__(self) -> str:
        return repr({key: SECRET_MASK for key in self})

    __str__ = __repr__


if TYPE_CHECKING:
    _FieldBase = models.Field[dict[str, str] | Secrets | None, Secrets]
else:
    _FieldBase = models.TextField


class EncryptedJSONField(_FieldBase):
    """A dict of strings stored as one Fernet token; the column never holds the plain values."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Secrets:
        if not value:
            return Secrets()
        try:
            return Secrets(json.loads(fernet().decrypt(value.encode())))
        except InvalidToken as exc:
            raise ImproperlyConfigured("Cannot decrypt secrets: FIELD_ENCRYPTION_KEYS lacks the key used") from exc

    def to_python(self, value: Any) -> Secrets:
        if isinstance(value, Secrets):
            return value
        if isinstance(value, dict):
            return Secrets(value)
        return self.from_db_value(value, None, None)

    def get_prep_value(self, value: Any) -> str:
        payload = json.dumps(dict(value or {}), sort_keys=True)
        return fernet().encrypt(payload.encode()).decode()

    def get_internal_type(self) -> str:
        return "TextField"

    def value_to_string(self, obj: models.Model) -> str:  # serializers (dumpdata) get the ciphertext
        return self.get_prep_value(self.value_from_object(obj))
