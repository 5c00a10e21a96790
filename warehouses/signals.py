"""Signals the inventory sends. Other apps listen; the inventory imports none of them."""

from __future__ import annotations

from django.dispatch import Signal

# Sent once per committed transaction that changed on-hand or committed quantities, with
# ``item_ids: set[int]``: the items whose available quantity may have changed. Sent only after
# the commit, so a receiver sees the new quantities and a rolled-back change sends nothing.
stock_changed = Signal()
