from django.apps import AppConfig


class MarketplacesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "marketplaces"

    def ready(self) -> None:
        # Connects the stock_changed receiver, and registers the tasks that marketplaces.jobs
        # queues by name (in the web process too, where nothing else imports them).
        from marketplaces import signals, tasks  # noqa: F401
