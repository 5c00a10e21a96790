"""What of the buyer's personal data Amazon withheld from an order, and which of its
restricted roles would bring it.

Amazon gives the buyer's e-mail, name and delivery address (Orders API 2026-01-01) only to
applications it granted a restricted role; without the role those fields are simply absent
from searchOrders and getOrder, with no error and no Restricted Data Token involved
(https://developer-docs.amazon.com/sp-api/docs/access-orders-pii):

- the e-mail: Direct-to-Consumer Delivery (Restricted), merchant-fulfilled orders that are
  unshipped, partially shipped or shipped;
- the name: for merchant-fulfilled orders Direct-to-Consumer Delivery, Tax Invoicing or Tax
  Remittance (all Restricted), in the same statuses; the tax roles give no name in the US,
  Japan and Singapore;
- the address (its name, lines, postal code, phone): Direct-to-Consumer Delivery. The city,
  province and country come without any role.

Amazon's page calls the first role both "Direct-to-Consumer Delivery" and
"Direct-to-Consumer Shipping"; it is one role.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

ADDRESS = "address"
EMAIL = "email"
NAME = "name"

DELIVERY_ROLE = "Direct-to-Consumer Delivery (Restricted)"
NAME_ROLES = (DELIVERY_ROLE, "Tax Invoicing (Restricted)", "Tax Remittance (Restricted)")
# Amazon gives the e-mail and the name only for orders in these statuses.
BUYER_DATA_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})


@dataclass(frozen=True)
class Withheld:
    """One part of the buyer's data Amazon withheld, and what the seller does without it."""

    code: str
    what: str
    roles: tuple[str, ...]
    instead: str


WITHHELD = {
    ADDRESS: Withheld(
        ADDRESS,
        "the delivery address",
        (DELIVERY_ROLE,),
        "Buy the label and ship from Seller Central, which has the address; the shipment can "
        "still be confirmed from here.",
    ),
    EMAIL: Withheld(
        EMAIL,
        "the buyer's e-mail",
        (DELIVERY_ROLE,),
        "Write to the buyer through Buyer-Seller Messaging in Seller Central.",
    ),
    NAME: Withheld(
        NAME,
        "the buyer's name",
        NAME_ROLES,
        "Seller Central shows the name with the order.",
    ),
}
ORDER = (ADDRESS, EMAIL, NAME)


def withheld_codes(
    *, merchant: bool, status: str, has_name: bool, has_email: bool, has_address: bool
) -> str:
    """What Amazon left out of an answer that asked for the buyer and the recipient, as stored
    on the order (``SalesOrder.personal_data_withheld``: "address,email,name"). Only what
    Amazon gives an app with the roles counts: nothing for an order Amazon fulfils (the
    product never asks for it), no e-mail or name before the order is confirmed."""
    if not merchant:
        return ""
    missing = [ADDRESS] if not has_address else []
    if status in BUYER_DATA_STATUSES:
        missing += [code for code, has in ((EMAIL, has_email), (NAME, has_name)) if not has]
    return ",".join(missing)


def missing_roles(withheld: Iterable[Withheld]) -> tuple[str, ...]:
    """The roles to request: Direct-to-Consumer Delivery brings all three for merchant
    orders; the tax roles only the name."""
    parts = list(withheld)
    if not parts:
        return ()
    if any(DELIVERY_ROLE in part.roles and len(part.roles) == 1 for part in parts):
        return (DELIVERY_ROLE,)
    return NAME_ROLES


@dataclass(frozen=True)
class Notice:
    """What the pages say of withheld data: which parts, and the role that brings them."""

    parts: tuple[Withheld, ...]

    @property
    def what(self) -> str:
        return join_words(part.what for part in self.parts)

    @property
    def roles(self) -> str:
        return join_words(missing_roles(self.parts), "or")

    @property
    def address(self) -> bool:
        """The address is among them: the order cannot be shipped from here."""
        return any(part.code == ADDRESS for part in self.parts)


def notice(codes: Iterable[str]) -> Notice | None:
    """``codes``: stored values of one order or of several; ``None`` when nothing was withheld."""
    present = {code for value in codes for code in value.split(",") if code}
    parts = tuple(WITHHELD[code] for code in ORDER if code in present)
    return Notice(parts) if parts else None


def join_words(words: Iterable[str], last: str = "and") -> str:
    """ "a", "a and b", "a, b and c"."""
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"
