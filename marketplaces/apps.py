from django.apps import AppConfig


class MarketplacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "marketplaces"

    def ready(self) -> None:
        from marketplaces import signals  # noqa: F401 - connects the stock_changed receiver
