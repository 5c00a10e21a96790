"""Seeded, deterministic fake data: the seller's catalogue and the orders buyers place.

Everything here is derived from ``random.Random`` instances built from the seed, never from the
module-level generator, so one seed always gives the same catalogue and order stream.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

MARKETPLACE_ID = "A2EUQ1WTGCTBG2"
MARKETPLACE_NAME = "Amazon.ca"
CURRENCY = "CAD"
FBA_CHANNEL = "AMAZON_NA"
MERCHANT_CHANNEL = "DEFAULT"
# Amazon.ca's legal entity, named as the party collecting marketplace-facilitator tax.
TAX_COLLECTOR = "Amazon.com.ca ULC"

FULFILLMENT_STATUSES = (
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
)
FULFILLED_BY = ("MERCHANT", "AMAZON")


@dataclass
class Listing:
    sku: str
    asin: str
    title: str
    language_tag: str
    product_type: str
    price_cents: int
    quantity: int  # merchant: the listed quantity; FBA: fulfillable units in Amazon's warehouses
    fulfillment_channel: str  # MERCHANT_CHANNEL or FBA_CHANNEL
    created: datetime
    last_updated: datetime
    fn_sku: str | None = None
    is_parent: bool = False
    parent_sku: str | None = None
    child_skus: list[str] = field(default_factory=list)
    variation_theme: list[str] = field(default_factory=list)
    variation_values: dict[str, str] = field(default_factory=dict)
    reserved: int = 0  # FBA: units in orders Amazon has not shipped yet
    unfulfillable: int = 0  # FBA: damaged/defective units
    inbound: int = 0  # FBA: units shipped to Amazon, not yet received

    @property
    def is_fba(self) -> bool:
        return self.fulfillment_channel == FBA_CHANNEL


@dataclass
class OrderLine:
    order_item_id: str
    sku: str
    asin: str
    title: str
    quantity: int
    unit_price_cents: int
    shipping_cents: int
    item_tax_cents: int
    shipping_tax_cents: int
    item_promo_cents: int = 0
    ship_promo_cents: int = 0
    promotion_ids: list[str] = field(default_factory=list)
    quantity_shipped: int = 0

    @property
    def item_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def unshipped(self) -> int:
        return self.quantity - self.quantity_shipped


@dataclass
class Package:
    package_reference_id: str
    carrier: str
    shipping_service: str
    tracking_number: str
    ship_time: datetime
    created: datetime
    items: list[tuple[str, int]]  # (orderItemId, quantity)


@dataclass
class Order:
    order_id: str
    seq: int
    created: datetime
    last_updated: datetime
    status: str
    fulfilled_by: str
    service_level: str
    buyer_name: str
    buyer_email: str
    address: dict[str, str]
    province: str
    taxes: tuple[str, ...]  # names of the Canadian taxes charged (GST, HST, PST, QST, RST)
    marketplace_facilitator: bool
    lines: list[OrderLine]
    programs: list[str] = field(default_factory=list)
    seller_order_id: str | None = None
    packages: list[Package] = field(default_factory=list)
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    marketplace_id: str = MARKETPLACE_ID

    @property
    def ship_by(self) -> tuple[datetime, datetime]:
        return self.created, self.created + timedelta(days=2)

    @property
    def deliver_by(self) -> tuple[datetime, datetime]:
        days = 2 if self.service_level in ("EXPEDITED", "NEXT_DAY") else 5
        return self.created + timedelta(days=days), self.created + timedelta(days=days + 4)


# -- catalogue ------------------------------------------------------------------------------

# (code, product type, English title, Canadian French title); typographic apostrophes on
# purpose: they are in windows-1252 but not in ISO-8859-1, which trips naive decoders.
PRODUCTS: list[tuple[str, str, str, str]] = [
    ("MUG", "DRINKING_CUP", "Enamel Camp Mug", "Tasse à café émaillée"),
    ("SOCK", "SOCKS", "Merino Wool Hiking Socks", "Chaussettes de randonnée en laine mérinos"),
    ("SYRP", "GROCERY", "Maple Syrup Gift Set", "Coffret cadeau de sirop d’érable"),
    ("SKLT", "COOKWARE", "Pre-Seasoned Cast Iron Skillet", "Poêle en fonte préculottée"),
    ("TAPE", "SPORTING_GOODS", "Hockey Stick Tape", "Ruban pour bâton de hockey"),
    ("BRD", "CUTTING_BOARD", "Bamboo Cutting Board", "Planche à découper en bambou"),
    ("BTL", "BOTTLE", "Insulated Water Bottle", "Bouteille isotherme en acier inoxydable"),
    ("TUQ", "HAT", "Cable-Knit Wool Toque", "Tuque en laine à torsades"),
    ("TOTE", "HANDBAG", "Waxed Canvas Tote Bag", "Sac fourre-tout en toile cirée"),
    ("CNDL", "CANDLE", "Beeswax Pillar Candle", "Bougie pilier en cire d’abeille"),
    ("WLT", "WALLET", "Slim Leather Wallet", "Portefeuille mince en cuir"),
    ("TPOT", "TEAPOT", "Ceramic Teapot with Infuser", "Théière en céramique avec infuseur"),
    ("YOGA", "EXERCISE_MAT", "Non-Slip Yoga Mat", "Tapis de yoga antidérapant"),
    ("LAMP", "FLASHLIGHT", "Rechargeable LED Headlamp", "Lampe frontale à DEL rechargeable"),
    (
        "PZL",
        "PUZZLES",
        "Northern Lights Puzzle, 1000 Pieces",
        "Casse-tête aurores boréales, 1000 pièces",
    ),
    ("BOOT", "BOOT", "Kids’ Rain Boots", "Bottes de pluie pour enfants"),
    ("SHOE", "SHOES", "Trail Running Shoes", "Chaussures de course en sentier"),
    ("SHRT", "SHIRT", "Flannel Work Shirt", "Chemise de travail en flanelle"),
    ("BRSH", "AUTO_ACCESSORY", "Telescoping Snow Brush", "Balai à neige télescopique"),
    ("TWL", "KITCHEN_TOWEL", "Cotton Tea Towel Set", "Ensemble de linges à vaisselle en coton"),
]

COLOURS = [
    ("Forest Green", "Vert forêt"),
    ("Navy", "Marine"),
    ("Charcoal", "Anthracite"),
    ("Cranberry", "Canneberge"),
    ("Sand", "Sable"),
    ("Sky Blue", "Bleu ciel"),
]
SIZES = ["S", "M", "L", "XL"]
MATERIALS = ["Cotton", "Wool", "Polyester"]
STYLES = ["Classic", "Sport", "Heritage"]
PATTERNS = ["Plaid", "Solid", "Striped"]

# Variation themes; the last two have more than three attributes (the product skips those).
THEMES: list[list[str]] = [
    ["COLOR_NAME"],
    ["SIZE_NAME", "COLOR_NAME"],
    ["SIZE_NAME", "COLOR_NAME", "STYLE_NAME"],
    ["SIZE_NAME", "COLOR_NAME", "MATERIAL_TYPE", "STYLE_NAME"],
    ["SIZE_NAME", "COLOR_NAME", "MATERIAL_TYPE", "STYLE_NAME", "PATTERN_NAME"],
]
THEME_VALUES: dict[str, list[str]] = {
    "COLOR_NAME": [c[0] for c in COLOURS],
    "SIZE_NAME": SIZES,
    "MATERIAL_TYPE": MATERIALS,
    "STYLE_NAME": STYLES,
    "PATTERN_NAME": PATTERNS,
}

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


def generate_catalogue(
    seed: int, now: datetime, standalone: int = 150, families: int = 18
) -> list[Listing]:
    """Standalone items plus variation families (parent + children); the defaults make about
    245 listings."""
    rng = random.Random(f"{seed}:catalogue")
    listings: list[Listing] = []
    asins: set[str] = set()

    def new_asin() -> str:
        while True:
            asin = "B0" + _code(rng, 8)
            if asin not in asins:
                asins.add(asin)
                return asin

    def created_at() -> datetime:
        return (now - timedelta(days=rng.randint(30, 900), seconds=rng.randint(0, 86399))).replace(
            microsecond=0
        )

    for n in range(1, standalone + 1):
        code, product_type, en, fr = PRODUCTS[(n - 1) % len(PRODUCTS)]
        colour_en, colour_fr = rng.choice(COLOURS)
        french = rng.random() < 0.4
        title = f"{fr} – {colour_fr}" if french else f"{en} - {colour_en}"
        fba = rng.random() < 0.25
        created = created_at()
        listings.append(
            Listing(
                sku=f"{code}-{n:04d}",
                asin=new_asin(),
                title=title,
                language_tag="fr_CA" if french else "en_CA",
                product_type=product_type,
                price_cents=rng.randint(8, 150) * 100 + rng.choice([0, 49, 95, 99]),
                quantity=0 if rng.random() < 0.06 else rng.randint(1, 250 if fba else 120),
                fulfillment_channel=FBA_CHANNEL if fba else MERCHANT_CHANNEL,
                created=created,
                last_updated=created + timedelta(days=rng.randint(0, 20)),
                fn_sku=("X00" + _code(rng, 7)) if fba else None,
                unfulfillable=rng.choice([0, 0, 0, 1, 2]) if fba else 0,
                inbound=rng.choice([0, 0, 12, 24]) if fba else 0,
            )
        )

    for f in range(1, families + 1):
        code, product_type, en, fr = PRODUCTS[rng.randrange(len(PRODUCTS))]
        theme = THEMES[(f - 1) % len(THEMES)]
        french = f % 3 == 0
        fba = f % 4 == 0
        parent_sku = f"{code}-FAM{f:02d}"
        created = created_at()
        parent = Listing(
            sku=parent_sku,
            asin=new_asin(),
            title=fr if french else en,
            language_tag="fr_CA" if french else "en_CA",
            product_type=product_type,
            price_cents=0,
            quantity=0,
            fulfillment_channel=MERCHANT_CHANNEL,
            created=created,
            last_updated=created,
            is_parent=True,
            variation_theme=list(theme),
        )
        listings.append(parent)
        combos: list[dict[str, str]] = []
        while len(combos) < rng.randint(3, 7):
            combo = {attr: rng.choice(THEME_VALUES[attr]) for attr in theme}
            if combo not in combos:
                combos.append(combo)
            if len(combos) >= 6 and len(theme) == 1:
                break
        base_price = rng.randint(15, 120) * 100 + 99
        for c, combo in enumerate(combos, start=1):
            suffix = " / ".join(combo.values())
            child = Listing(
                sku=f"{parent_sku}-{c:02d}",
                asin=new_asin(),
                title=f"{parent.title} ({suffix})",
                language_tag=parent.language_tag,
                product_type=product_type,
                price_cents=base_price + (500 if combo.get("SIZE_NAME") == "XL" else 0),
                quantity=rng.randint(0, 60),
                fulfillment_channel=FBA_CHANNEL if fba else MERCHANT_CHANNEL,
                created=created,
                last_updated=created + timedelta(days=rng.randint(0, 20)),
                fn_sku=("X00" + _code(rng, 7)) if fba else None,
                parent_sku=parent_sku,
                variation_theme=list(theme),
                variation_values=combo,
            )
            parent.child_skus.append(child.sku)
            listings.append(child)
    return listings


# -- buyers ---------------------------------------------------------------------------------

FIRST_NAMES = [
    "Élise",
    "Marc-André",
    "Sarah",
    "Jean",
    "Priya",
    "Olivier",
    "Chloé",
    "Liam",
    "Amélie",
    "Noah",
    "Geneviève",
    "Ethan",
    "Zoë",
    "François",
    "Mia",
    "Wei",
    "Hélène",
    "Jacob",
    "Anaïs",
    "Lucas",
]
LAST_NAMES = [
    "Tremblay",
    "Gagnon",
    "Roy",
    "Côté",
    "Bouchard",
    "Smith",
    "Brown",
    "Wilson",
    "MacDonald",
    "Lévesque",
    "Singh",
    "Nguyen",
    "Bélanger",
    "Campbell",
    "Anderson",
    "Pelletier",
    "Chen",
    "O’Brien",
    "Fortin",
    "Martin",
]
STREETS = [
    "rue Sainte-Catherine",
    "King Street West",
    "rue Saint-Jean",
    "Granville Street",
    "Jasper Avenue",
    "Portage Avenue",
    "Spring Garden Road",
    "boulevard René-Lévesque",
    "Queen Street",
    "Main Street",
    "chemin de la Côte-des-Neiges",
    "Water Street",
]
# (city, province code, postal code prefix)
CITIES: list[tuple[str, str, str]] = [
    ("Toronto", "ON", "M5V"),
    ("Ottawa", "ON", "K1P"),
    ("Mississauga", "ON", "L5B"),
    ("Montréal", "QC", "H2X"),
    ("Québec", "QC", "G1R"),
    ("Gatineau", "QC", "J8X"),
    ("Vancouver", "BC", "V6B"),
    ("Victoria", "BC", "V8W"),
    ("Calgary", "AB", "T2P"),
    ("Edmonton", "AB", "T5J"),
    ("Winnipeg", "MB", "R3C"),
    ("Regina", "SK", "S4P"),
    ("Halifax", "NS", "B3J"),
    ("Moncton", "NB", "E1C"),
    ("St. John’s", "NL", "A1C"),
    ("Charlottetown", "PE", "C1A"),
    ("Whitehorse", "YT", "Y1A"),
]
# Sales taxes by province, as (name, rate); Amazon collects PST/QST/RST as marketplace
# facilitator in BC, SK, MB and QC.
PROVINCE_TAXES: dict[str, list[tuple[str, float]]] = {
    "ON": [("HST", 0.13)],
    "QC": [("GST", 0.05), ("QST", 0.09975)],
    "BC": [("GST", 0.05), ("PST", 0.07)],
    "AB": [("GST", 0.05)],
    "MB": [("GST", 0.05), ("RST", 0.07)],
    "SK": [("GST", 0.05), ("PST", 0.06)],
    "NS": [("HST", 0.14)],
    "NB": [("HST", 0.15)],
    "NL": [("HST", 0.15)],
    "PE": [("HST", 0.15)],
    "YT": [("GST", 0.05)],
}
FACILITATOR_PROVINCES = {"QC", "BC", "SK", "MB"}


def tax_cents(amount_cents: int, province: str) -> int:
    return sum(round(amount_cents * rate) for _, rate in PROVINCE_TAXES[province])


def _digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(length))


def make_order(
    rng: random.Random,
    seq: int,
    created: datetime,
    catalogue: list[Listing],
    *,
    fulfilled_by: str | None = None,
    status: str = "PENDING",
    skus: list[str] | None = None,
) -> Order:
    """One order placed at ``created``; lines pick buyable listings of one fulfilment channel."""
    if fulfilled_by is None:
        fulfilled_by = "AMAZON" if rng.random() < 0.3 else "MERCHANT"
    channel = FBA_CHANNEL if fulfilled_by == "AMAZON" else MERCHANT_CHANNEL
    if skus:
        by_sku = {listing.sku: listing for listing in catalogue}
        chosen = [by_sku[sku] for sku in skus]
    else:
        candidates = [
            lst for lst in catalogue if not lst.is_parent and lst.fulfillment_channel == channel
        ]
        in_stock = [lst for lst in candidates if lst.quantity > 0] or candidates
        line_count = rng.choices([1, 2, 3, 4], weights=[70, 20, 7, 3])[0]
        chosen = rng.sample(in_stock, min(line_count, len(in_stock)))

    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    city, province, postal_prefix = rng.choice(CITIES)
    postal = (
        f"{postal_prefix} {rng.randint(1, 9)}{rng.choice('ABCEGHJKLMNPRSTVXY')}{rng.randint(1, 9)}"
    )
    address = {
        "name": f"{first} {last}",
        "addressLine1": f"{rng.randint(1, 9999)} {rng.choice(STREETS)}",
        "city": city,
        "stateOrRegion": province,
        "postalCode": postal,
        "countryCode": "CA",
        "phone": f"+1 {rng.randint(204, 905)}-555-{rng.randint(0, 9999):04d}",
        "addressType": "RESIDENTIAL" if rng.random() < 0.9 else "COMMERCIAL",
    }
    if rng.random() < 0.3:
        address["addressLine2"] = (
            f"App. {rng.randint(1, 2400)}" if province == "QC" else f"Unit {rng.randint(1, 2400)}"
        )

    service_level = rng.choices(["STANDARD", "EXPEDITED", "NEXT_DAY"], weights=[80, 15, 5])[0]
    free_shipping = fulfilled_by == "AMAZON" or rng.random() < 0.4
    shipping_per_order = 0 if free_shipping else rng.choice([599, 799, 999])
    promo = rng.random() < 0.15
    lines: list[OrderLine] = []
    for index, listing in enumerate(chosen):
        quantity = rng.choices([1, 2, 3], weights=[80, 15, 5])[0]
        shipping = shipping_per_order if index == 0 else 0
        item_promo = round(listing.price_cents * quantity * 0.1) if promo else 0
        ship_promo = shipping if promo and shipping else 0
        lines.append(
            OrderLine(
                order_item_id=_digits(rng, 14),
                sku=listing.sku,
                asin=listing.asin,
                title=listing.title,
                quantity=quantity,
                unit_price_cents=listing.price_cents,
                shipping_cents=shipping,
                item_tax_cents=tax_cents(listing.price_cents * quantity - item_promo, province),
                shipping_tax_cents=tax_cents(shipping - ship_promo, province),
                item_promo_cents=item_promo,
                ship_promo_cents=ship_promo,
                promotion_ids=[f"PLM-{_code(rng, 10)}"] if promo else [],
            )
        )
    programs = ["PRIME"] if fulfilled_by == "AMAZON" and rng.random() < 0.6 else []
    return Order(
        order_id=f"702-{_digits(rng, 7)}-{_digits(rng, 7)}",
        seq=seq,
        created=created,
        last_updated=created,
        status=status,
        fulfilled_by=fulfilled_by,
        service_level=service_level,
        buyer_name=f"{first} {last}",
        buyer_email=f"{_code(rng, 14).lower()}@marketplace.amazon.ca",
        address=address,
        province=province,
        taxes=tuple(name for name, _ in PROVINCE_TAXES[province]),
        marketplace_facilitator=province in FACILITATOR_PROVINCES,
        lines=lines,
        programs=programs,
        seller_order_id=None,
    )
