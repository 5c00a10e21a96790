"""Re-encrypt every encrypted column with the newest FIELD_ENCRYPTION_KEY.

Key rotation (docs/SECURITY.md): put the new key first in FIELD_ENCRYPTION_KEY (keep the old
ones after it), restart, run this command, then drop the old keys. Safe to run again or to
interrupt: a value already under the newest key is left alone, and a row changed meanwhile is
not overwritten (the update only applies while the column still holds what was read).
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models, transaction
from django.db.models import ExpressionWrapper, F, Value

from accounts import audit
from inventory_sync import crypto
from inventory_sync.fields import EncryptedTextField


def encrypted_columns() -> list[tuple[type[models.Model], EncryptedTextField]]:
    """Every (model, field) whose column holds ciphertext, across all installed apps."""
    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def _raw(field: models.Field[Any, Any]) -> ExpressionWrapper[F]:
    # A plain TextField output: the ORM hands back the stored ciphertext, not the plaintext.
    return ExpressionWrapper(F(field.attname), output_field=models.TextField())


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the newest key of FIELD_ENCRYPTION_KEY."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500)

    def handle(self, *args: Any, batch_size: int = 500, **options: Any) -> None:
        newest = Fernet(settings.FIELD_ENCRYPTION_KEYS[0].encode())
        total_rotated = total_failed = 0
        for model, field in encrypted_columns():
            rotated = current = failed = 0
            rows = (
                model._default_manager.alias(_raw=_raw(field))
                .exclude(_raw__isnull=True)
                .exclude(_raw="")
                .order_by("pk")
            )
            last_pk: Any = None
            while True:
                page = rows if last_pk is None else rows.filter(pk__gt=last_pk)
                values = page.annotate(_value=_raw(field)).values_list("pk", "_value")
                batch = list(values[:batch_size])
                if not batch:
                    break
                last_pk = batch[-1][0]
                with transaction.atomic():
                    for pk, token in batch:
                        try:
                            newest.decrypt(token.encode("ascii"))
                        except InvalidToken:
                            pass
                        else:
                            current += 1
                            continue
                        try:
                            fresh = crypto.rotate(token)
                        except InvalidToken:
                            failed += 1  # under a key no longer configured: reported below
                            continue
                        rotated += (
                            model._default_manager.alias(_raw=_raw(field))
                            .filter(pk=pk, _raw=token)
                            .update(
                                **{field.attname: Value(fresh, output_field=models.TextField())}
                            )
                        )
            label = f"{model._meta.label}.{field.name}"
            self.stdout.write(
                f"{label}: {rotated} re-encrypted, {current} already under the newest key"
                + (f", {failed} NOT decryptable with any configured key" if failed else "")
            )
            total_rotated += rotated
            total_failed += failed
        audit.record(
            None,
            "encryption-keys-rotated",
            detail={"rotated": total_rotated, "undecryptable": total_failed},
        )
        if total_failed:
            raise CommandError(
                f"{total_failed} values could not be decrypted with any configured key; keep "
                "the old keys until they are found and fixed."
            )
        self.stdout.write(self.style.SUCCESS(f"Done: {total_rotated} values re-encrypted."))
