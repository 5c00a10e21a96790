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
US_MARKETPLACE_ID = "ATVPDKIKX0DER"
MX_MARKETPLACE_ID = "A1AM78C64UM0Y8"
# FBA fulfilment networks: Amazon.ca keeps its own stock; Amazon.com and Amazon.com.mx sell
# from the US network's stock.
CA_POOL = "CA"
US_POOL = "US"


@dataclass(frozen=True)
class Marketplace:
    """One marketplace of the North America unified account and what its orders carry."""

    marketplace_id: str
    name: str
    country: str
    currency: str
    language: str
    domain: str
    fba_pool: str
    # The party Amazon names as collecting marketplace-facilitator tax (None: the seller
    # collects the tax itself, as on Amazon.com.mx, where Amazon only withholds).
    tax_collector: str | None
    order_prefixes: tuple[str, ...]
    fba_carrier: str
    merchant_carrier: str
    merchant_service: str


MARKETPLACES: dict[str, Marketplace] = {
    MARKETPLACE_ID: Marketplace(
        MARKETPLACE_ID,
        MARKETPLACE_NAME,
        "CA",
        CURRENCY,
        "en_CA",
        "www.amazon.ca",
        CA_POOL,
        TAX_COLLECTOR,
        ("702",),
        "AMZN_CA",
        "Canada Post",
        "Expedited Parcel",
    ),
    US_MARKETPLACE_ID: Marketplace(
        US_MARKETPLACE_ID,
        "Amazon.com",
        "US",
        "USD",
        "en_US",
        "www.amazon.com",
        US_POOL,
        # The marketplace-facilitator party Amazon's Orders v0 model names for US orders.
        "Amazon Services, Inc.",
        ("111", "112", "113", "114"),
        "AMZN_US",
        "USPS",
        "Priority Mail",
    ),
    MX_MARKETPLACE_ID: Marketplace(
        MX_MARKETPLACE_ID,
        "Amazon.com.mx",
        "MX",
        "MXN",
        "es_MX",
        "www.amazon.com.mx",
        US_POOL,
        None,
        ("701",),
        "AMZN_MX",
        "Estafeta",
        "Dia Siguiente",
    ),
}

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
    marketplace_id: str = MARKETPLACE_ID
    # FBA on Amazon.com.mx: the Amazon.com listing of the same SKU, whose counts are the US
    # network's stock both marketplaces sell from (None: this listing holds its own counts).
    shares_stock_of: Listing | None = field(default=None, repr=False, compare=False)

    @property
    def is_fba(self) -> bool:
        return self.fulfillment_channel == FBA_CHANNEL

    @property
    def stock(self) -> Listing:
        """The listing holding this SKU's FBA counts in its fulfilment network."""
        return self.shares_stock_of or self


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
    # Units the seller cancelled (order acknowledgement feed) and the CancelReason given.
    quantity_cancelled: int = 0
    cancel_reason: str | None = None

    @property
    def item_cents(self) -> int:
        return self.unit_price_cents * self.quantity

    @property
    def unshipped(self) -> int:
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


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
    # Names of the taxes charged: Canadian GST, HST, PST, QST, RST; US sales tax; Mexican IVA.
    taxes: tuple[str, ...]
    marketplace_facilitator: bool
    lines: list[OrderLine]
    programs: list[str] = field(default_factory=list)
    seller_order_id: str | None = None
    packages: list[Package] = field(default_factory=list)
    cancel_reason: str | None = None
    cancelled_by: str | None = None
    marketplace_id: str = MARKETPLACE_ID
    # A buyer's cancellation request the seller has not acted on yet (its reason), kept on
    # record once the order is cancelled.
    buyer_cancel_reason: str | None = None

    @property
    def marketplace(self) -> Marketplace:
        return MARKETPLACES[self.marketplace_id]

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


# -- Amazon.com and Amazon.com.mx -----------------------------------------------------------
#
# The other marketplaces of the unified North America account draw from their own generators
# (``{seed}:catalogue:{marketplace}``, ``{seed}:{marketplace}:order:{n}``), so adding them
# leaves every Amazon.ca listing and order of a seed exactly as it was.

SPANISH_TITLES: dict[str, str] = {
    "MUG": "Taza de campismo esmaltada",
    "SOCK": "Calcetines de senderismo de lana merino",
    "SYRP": "Set de regalo de jarabe de maple",
    "SKLT": "Sartén de hierro fundido curado",
    "TAPE": "Cinta para bastón de hockey",
    "BRD": "Tabla para picar de bambú",
    "BTL": "Botella térmica para agua",
    "TUQ": "Gorro de lana tejido",
    "TOTE": "Bolsa tote de lona encerada",
    "CNDL": "Vela de cera de abeja",
    "WLT": "Cartera delgada de piel",
    "TPOT": "Tetera de cerámica con infusor",
    "YOGA": "Tapete de yoga antideslizante",
    "LAMP": "Lámpara frontal LED recargable",
    "PZL": "Rompecabezas auroras boreales, 1000 piezas",
    "BOOT": "Botas de lluvia para niños",
    "SHOE": "Tenis para correr en sendero",
    "SHRT": "Camisa de trabajo de franela",
    "BRSH": "Cepillo telescópico para nieve",
    "TWL": "Juego de trapos de cocina de algodón",
}
SPANISH_COLOURS = ["Verde bosque", "Azul marino", "Carbón", "Arándano", "Arena", "Azul cielo"]
_PRODUCT_BY_CODE = {code: (product_type, en, fr) for code, product_type, en, fr in PRODUCTS}


def _colour_index(title: str) -> int:
    """Which colour a standalone Amazon.ca title names (English or French)."""
    for index, (en, fr) in enumerate(COLOURS):
        if title.endswith(en) or title.endswith(fr):
            return index
    return 0


def _usd_cents(cad_cents: int) -> int:
    return max(4, round(cad_cents * 0.73 / 100)) * 100 - 1


def _mxn_cents(cad_cents: int) -> int:
    return max(5, round(cad_cents * 13.5 / 1000)) * 1000 - 100


def _title_for(listing: Listing, marketplace_id: str) -> tuple[str, str]:
    """(title, language tag) of an Amazon.ca listing as Amazon.com or Amazon.com.mx shows it."""
    code = listing.sku.split("-")[0]
    _, en, _ = _PRODUCT_BY_CODE[code]
    spanish = marketplace_id == MX_MARKETPLACE_ID
    base = SPANISH_TITLES[code] if spanish else en
    if listing.is_parent:
        title = base
    elif listing.parent_sku:
        title = f"{base} ({' / '.join(listing.variation_values.values())})"
    else:
        colour = _colour_index(listing.title)
        title = f"{base} - {SPANISH_COLOURS[colour] if spanish else COLOURS[colour][0]}"
    return title, "es_MX" if spanish else "en_US"


def generate_marketplace_catalogue(
    seed: int, now: datetime, marketplace_id: str, source: list[Listing]
) -> list[Listing]:
    """Amazon.com's listings (``source``: Amazon.ca's) or Amazon.com.mx's (``source``:
    Amazon.com's): a share of the source's SKUs (a variation family all or nothing, same ASIN,
    same channel) plus a few SKUs sold only there. Merchant listings get their own quantity;
    an Amazon.com.mx FBA listing sells from the Amazon.com listing's US-network stock."""
    rng = random.Random(f"{seed}:catalogue:{marketplace_id}")
    mexico = marketplace_id == MX_MARKETPLACE_ID
    share = 0.4 if mexico else 0.7
    price = _mxn_cents if mexico else _usd_cents
    asins = {listing.asin for listing in source}
    listings: list[Listing] = []
    included_parents: set[str] = set()

    def merchant_quantity() -> int:
        return 0 if rng.random() < 0.08 else rng.randint(1, 80)

    for original in source:
        if original.is_parent:
            if rng.random() >= share:
                continue
            included_parents.add(original.sku)
        elif original.parent_sku is not None:
            if original.parent_sku not in included_parents:
                continue
        elif rng.random() >= share:
            continue
        title, language = _title_for(original, marketplace_id)
        created = original.created + timedelta(days=rng.randint(0, 60))
        created = min(created, now - timedelta(days=1))
        listing = Listing(
            sku=original.sku,
            asin=original.asin,
            title=title,
            language_tag=language,
            product_type=original.product_type,
            price_cents=0 if original.is_parent else price(original.price_cents),
            quantity=0,
            fulfillment_channel=original.fulfillment_channel,
            created=created,
            last_updated=created + timedelta(days=rng.randint(0, 20)),
            fn_sku=original.fn_sku,
            is_parent=original.is_parent,
            parent_sku=original.parent_sku,
            child_skus=list(original.child_skus),
            variation_theme=list(original.variation_theme),
            variation_values=dict(original.variation_values),
            marketplace_id=marketplace_id,
        )
        if listing.is_parent:
            pass
        elif not listing.is_fba:
            listing.quantity = merchant_quantity()
        elif mexico:
            listing.shares_stock_of = original  # the US network's stock
        else:
            listing.quantity = rng.randint(0, 300)
            listing.unfulfillable = rng.choice([0, 0, 1, 3])
            listing.inbound = rng.choice([0, 0, 0, 24, 48])
        listings.append(listing)

    # SKUs the seller lists only on this marketplace (merchant-fulfilled).
    extras = max(1, len(source) // (25 if mexico else 10))
    for n in range(1, extras + 1):
        code, product_type, _, _ = PRODUCTS[rng.randrange(len(PRODUCTS))]
        while True:
            asin = "B0" + _code(rng, 8)
            if asin not in asins:
                asins.add(asin)
                break
        colour = rng.randrange(len(COLOURS))
        base = SPANISH_TITLES[code] if mexico else _PRODUCT_BY_CODE[code][1]
        created = (now - timedelta(days=rng.randint(30, 400))).replace(microsecond=0)
        listings.append(
            Listing(
                sku=f"{code}-{'MX' if mexico else 'US'}{n:03d}",
                asin=asin,
                title=f"{base} - {SPANISH_COLOURS[colour] if mexico else COLOURS[colour][0]}",
                language_tag="es_MX" if mexico else "en_US",
                product_type=product_type,
                price_cents=price(rng.randint(10, 120) * 100 + 99),
                quantity=merchant_quantity(),
                fulfillment_channel=MERCHANT_CHANNEL,
                created=created,
                last_updated=created + timedelta(days=rng.randint(0, 20)),
                marketplace_id=marketplace_id,
            )
        )
    return listings


US_FIRST_NAMES = ["James", "Mary", "Robert", "Jennifer", "Michael", "Linda", "David", "Aisha"]
US_FIRST_NAMES += ["Carlos", "Emily", "Daniel", "Jessica", "Kevin", "Nicole", "Tyler", "Grace"]
US_LAST_NAMES = ["Johnson", "Williams", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez"]
US_LAST_NAMES += ["Hernandez", "Lopez", "Wilson", "Thomas", "Moore", "Jackson", "Lee", "Harris"]
US_STREETS = ["Main St", "Oak Ave", "Maple Dr", "Broadway", "Elm St", "Park Ave", "Pine St"]
US_STREETS += ["Washington Blvd", "Lake Shore Dr", "Sunset Blvd", "Peachtree St", "Market St"]
# (city, state, ZIP prefix, combined state + local sales tax rate Amazon collects as
# marketplace facilitator; 0: a state without sales tax, where nothing is collected).
US_CITIES: list[tuple[str, str, str, float]] = [
    ("New York", "NY", "100", 0.08875),
    ("Los Angeles", "CA", "900", 0.095),
    ("Chicago", "IL", "606", 0.1025),
    ("Houston", "TX", "770", 0.0825),
    ("Phoenix", "AZ", "850", 0.086),
    ("Seattle", "WA", "981", 0.1035),
    ("Denver", "CO", "802", 0.0881),
    ("Miami", "FL", "331", 0.07),
    ("Atlanta", "GA", "303", 0.089),
    ("Boston", "MA", "021", 0.0625),
    ("Portland", "OR", "972", 0.0),
    ("Manchester", "NH", "031", 0.0),
    ("Wilmington", "DE", "198", 0.0),
    ("Billings", "MT", "591", 0.0),
    ("Columbus", "OH", "432", 0.0775),
    ("Minneapolis", "MN", "554", 0.08025),
]
MX_FIRST_NAMES = ["José", "María", "Juan", "Guadalupe", "Luis", "Fernanda", "Carlos", "Sofía"]
MX_FIRST_NAMES += ["Miguel", "Valentina", "Alejandro", "Ximena", "Jorge", "Camila"]
MX_LAST_NAMES = ["Hernández", "García", "Martínez", "López", "González", "Pérez", "Rodríguez"]
MX_LAST_NAMES += ["Sánchez", "Ramírez", "Cruz", "Flores", "Gómez", "Morales", "Vázquez"]
MX_STREETS = ["Av. Insurgentes Sur", "Calle Madero", "Av. Reforma", "Calle Hidalgo"]
MX_STREETS += ["Av. Juárez", "Calle Morelos", "Av. Revolución", "Calle 5 de Mayo"]
# (city, state as Amazon.com.mx addresses name it, postal code prefix, neighbourhood)
MX_CITIES: list[tuple[str, str, str, str]] = [
    ("Ciudad de México", "Ciudad de México", "06", "Col. Centro"),
    ("Ciudad de México", "Ciudad de México", "03", "Col. Del Valle"),
    ("Guadalajara", "Jalisco", "44", "Col. Americana"),
    ("Monterrey", "Nuevo León", "64", "Col. Obispado"),
    ("Puebla", "Puebla", "72", "Col. La Paz"),
    ("Querétaro", "Querétaro", "76", "Col. Centro Sur"),
    ("Mérida", "Yucatán", "97", "Col. García Ginerés"),
    ("Toluca", "Estado de México", "50", "Col. Universidad"),
    ("Tijuana", "Baja California", "22", "Col. Cacho"),
]
# Mexico's value added tax (IVA) at its general rate, priced on top of the item.
MX_IVA = 0.16


def make_marketplace_order(
    rng: random.Random,
    seq: int,
    created: datetime,
    catalogue: list[Listing],
    marketplace_id: str,
    *,
    fulfilled_by: str | None = None,
    status: str = "PENDING",
    skus: list[str] | None = None,
) -> Order:
    """One Amazon.com or Amazon.com.mx order: US addresses and sales tax (collected by Amazon
    as marketplace facilitator where the state has one), or Mexican addresses and IVA."""
    market = MARKETPLACES[marketplace_id]
    mexico = marketplace_id == MX_MARKETPLACE_ID
    if fulfilled_by is None:
        fulfilled_by = "AMAZON" if rng.random() < 0.35 else "MERCHANT"
        if not any(lst.is_fba and not lst.is_parent for lst in catalogue):
            fulfilled_by = "MERCHANT"  # a small catalogue may list nothing FBA here
    channel = FBA_CHANNEL if fulfilled_by == "AMAZON" else MERCHANT_CHANNEL
    if skus:
        by_sku = {listing.sku: listing for listing in catalogue}
        chosen = [by_sku[sku] for sku in skus]
    else:
        candidates = [
            lst for lst in catalogue if not lst.is_parent and lst.fulfillment_channel == channel
        ]
        in_stock = [lst for lst in candidates if lst.stock.quantity > 0] or candidates
        line_count = rng.choices([1, 2, 3], weights=[75, 20, 5])[0]
        chosen = rng.sample(in_stock, min(line_count, len(in_stock)))

    if mexico:
        first, last = rng.choice(MX_FIRST_NAMES), rng.choice(MX_LAST_NAMES)
        city, state, prefix, colonia = rng.choice(MX_CITIES)
        address = {
            "name": f"{first} {last}",
            "addressLine1": f"{rng.choice(MX_STREETS)} {rng.randint(1, 3000)}",
            "addressLine2": colonia,
            "city": city,
            "stateOrRegion": state,
            "postalCode": f"{prefix}{rng.randint(0, 999):03d}",
            "countryCode": "MX",
            "phone": f"+52 {rng.randint(33, 99)} {rng.randint(1000, 9999)} "
            f"{rng.randint(0, 9999):04d}",
            "addressType": "RESIDENTIAL" if rng.random() < 0.9 else "COMMERCIAL",
        }
        taxes: tuple[str, ...] = ("IVA",)
        rate, facilitator = MX_IVA, False
    else:
        first, last = rng.choice(US_FIRST_NAMES), rng.choice(US_LAST_NAMES)
        city, state, prefix, rate = rng.choice(US_CITIES)
        address = {
            "name": f"{first} {last}",
            "addressLine1": f"{rng.randint(1, 9999)} {rng.choice(US_STREETS)}",
            "city": city,
            "stateOrRegion": state,
            "postalCode": f"{prefix}{rng.randint(0, 99):02d}",
            "countryCode": "US",
            "phone": f"+1 {rng.randint(201, 989)}-555-{rng.randint(0, 9999):04d}",
            "addressType": "RESIDENTIAL" if rng.random() < 0.9 else "COMMERCIAL",
        }
        if rng.random() < 0.25:
            address["addressLine2"] = f"Apt {rng.randint(1, 2400)}"
        taxes = ("Sales tax",) if rate else ()
        facilitator = bool(rate)

    service_level = rng.choices(["STANDARD", "EXPEDITED", "NEXT_DAY"], weights=[75, 18, 7])[0]
    free_shipping = fulfilled_by == "AMAZON" or rng.random() < 0.5
    shipping_per_order = (
        0 if free_shipping else rng.choice([9900, 14900] if mexico else [499, 699, 899])
    )
    promo = rng.random() < 0.12
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
                item_tax_cents=round((listing.price_cents * quantity - item_promo) * rate),
                shipping_tax_cents=round((shipping - ship_promo) * rate),
                item_promo_cents=item_promo,
                ship_promo_cents=ship_promo,
                promotion_ids=[f"PLM-{_code(rng, 10)}"] if promo else [],
            )
        )
    programs = ["PRIME"] if fulfilled_by == "AMAZON" and rng.random() < 0.7 else []
    prefix_digits = rng.choice(market.order_prefixes)
    return Order(
        order_id=f"{prefix_digits}-{_digits(rng, 7)}-{_digits(rng, 7)}",
        seq=seq,
        created=created,
        last_updated=created,
        status=status,
        fulfilled_by=fulfilled_by,
        service_level=service_level,
        buyer_name=f"{first} {last}",
        buyer_email=f"{_code(rng, 14).lower()}@marketplace.{market.domain[4:]}",
        address=address,
        province=state,
        taxes=taxes,
        marketplace_facilitator=facilitator,
        lines=lines,
        programs=programs,
        seller_order_id=None,
        marketplace_id=marketplace_id,
    )
