"""Signals the inventory sends. Other apps listen; the inventory imports none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent for stock changes that committed, with ``item_ids: set[int]``: the items whose available
# quantity may have changed. Sent inside the transaction that removes the changes from the
# outbox (``warehouses.stock``): a receiver's writes commit with that removal, and a receiver
# that raises leaves the changes to be sent again (at least once, so receivers are idempotent).
# A rolled-back change sends nothing.
stock_changed = Signal()
