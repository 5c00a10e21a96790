"""The Celery application: configured from Django settings (``CELERY_*``), tasks autodiscovered."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_sync.settings")

app = Celery("inventory_sync")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

FILESYSTEM_BROKER_FOLDERS = (
    "data_folder_in",
    "data_folder_out",
    "processed_folder",
    "control_folder",
)


@app.on_after_configure.connect
def create_filesystem_broker_folders(sender: Celery, **kwargs: Any) -> None:
    """kombu's filesystem transport writes into folders it never creates: on a fresh checkout
    the first task queued outside `make run` (connect_amazon's initial sync, say) failed with
    FileNotFoundError after its rows were saved. Made when the configuration is first read, in
    every process that queues or consumes tasks."""
    if not str(sender.conf.broker_url or "").startswith("filesystem://"):
        return
    options = sender.conf.broker_transport_options or {}
    for name in FILESYSTEM_BROKER_FOLDERS:
        if options.get(name):
            Path(options[name]).mkdir(parents=True, exist_ok=True)
