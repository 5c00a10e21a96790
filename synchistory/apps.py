from django.apps import AppConfig


class SynchistoryConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "synchistory"
