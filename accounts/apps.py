from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from accounts import checks, signals  # noqa: F401  (register the checks and receivers)
        from inventory_sync import logging as redaction

        # Scrub every log record at creation, for handlers settings.LOGGING does not know.
        redaction.install()
