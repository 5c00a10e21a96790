"""Celery tasks of the inventory: thin, each calls one service."""

from __future__ import annotations

from celery import shared_task

from warehouses import exchange_rates


@shared_task(name="warehouses.tasks.fetch_exchange_rates_task")
def fetch_exchange_rates_task() -> str:
    """Daily (CELERY_BEAT_SCHEDULE): the Bank of Canada's rates of the days not yet fetched."""
    return str(exchange_rates.fetch_missing_rates())
