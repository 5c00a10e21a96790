"""Model fields whose database column only ever holds ciphertext."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from django.db import models

from inventory_sync import crypto
from inventory_sync.generics import generic

if TYPE_CHECKING:
    from django.db.models import TextField
else:
    TextField = generic(models.TextField)


class EncryptedTextField(TextField[Any, Any]):
    """A text value stored Fernet-encrypted; Python code sees plaintext, the column never does.

    Encrypted values cannot be filtered or ordered on: look rows up by other columns.
    """

    def to_plaintext(self, value: Any) -> str:
        return str(value)

    def from_plaintext(self, plaintext: str) -> Any:
        return plaintext

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return self.from_plaintext(crypto.decrypt(value))

    def get_prep_value(self, value: Any) -> str | None:
        if value is None or value == "":
            return None if value is None else ""
        return crypto.encrypt(self.to_plaintext(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON document (e.g. a postal address) stored encrypted as a whole."""

    # For django-stubs: instances hold any JSON value, not a str.
    _pyi_private_set_type: Any
    _pyi_private_get_type: Any

    def to_plaintext(self, value: Any) -> str:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)

    def from_plaintext(self, plaintext: str) -> Any:
        return json.loads(plaintext)

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        if value == "":
            return None
        return super().from_db_value(value, expression, connection)
