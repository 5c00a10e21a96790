"""Model fields whose database column only ever holds ciphertext."""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from inventory_sync import crypto


class EncryptedTextField(models.TextField):
    """A text value stored Fernet-encrypted; Python code sees plaintext, the column never does.

    Encrypted values cannot be filtered or ordered on: look rows up by other columns.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None or value == "":
            return value
        return crypto.decrypt(value)

    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return crypto.encrypt(str(value))


class EncryptedJSONField(EncryptedTextField):
    """A JSON document (e.g. a postal address) stored encrypted as a whole."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> Any:
        plaintext = super().from_db_value(value, expression, connection)
        if plaintext is None or plaintext == "":
            return None
        return json.loads(plaintext)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and value:
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    def get_prep_value(self, value: Any) -> str | None:
        if value is None:
            return None
        return super().get_prep_value(json.dumps(value, sort_keys=True, ensure_ascii=False))
