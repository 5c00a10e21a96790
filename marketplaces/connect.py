"""Connecting an Amazon seller account: OAuth state, prerequisites, the channels.

One authorization covers the seller's North-American marketplaces: the first connect makes the
Amazon.ca channel (or the one asked for), ``add_marketplace`` makes another marketplace's
channel from the same authorization, without asking the seller again. Every channel of a
seller holds the same credential: a re-authorization writes it to all of them.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import User
from marketplaces.amazon.client import (
    AmazonClient,
    Connection,
    exchange_authorization_code,
    verify_refresh_token,
)
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonAuthError, AmazonError, AmazonRejected
from marketplaces.endpoints import UntrustedUrl, check_lwa_endpoint, check_spapi_endpoint
from marketplaces.models import MARKETPLACES, MarketplaceInfo, SalesChannel
from marketplaces.services import request_sync
from synchistory.models import SyncRun
from warehouses.currency import BASE_CURRENCY
from warehouses.models import Organization

STATE_SALT = "marketplaces.amazon.oauth-state"
STATE_SESSION_KEY = "amazon_oauth_nonce"
# Amazon's authorization code lives five minutes; the whole round trip gets a little more.
STATE_MAX_AGE = timedelta(minutes=10)
# The base currency rule has one home, warehouses/currency.py: CAD, the Bank of Canada rates'.
MARKETPLACE_CURRENCY = BASE_CURRENCY
# Amazon's seller ids (merchant tokens), e.g. A3ABCDEFGHIJKL.
SELLER_ID_PATTERN = re.compile(r"[A-Z0-9]{6,32}")


def check_prerequisites(organization: Organization) -> None:
    """Zoho's "things to remember", as refusals that say what to fix."""
    problems = []
    if organization.base_currency != MARKETPLACE_CURRENCY:
        problems.append(
            f"The base currency is {organization.base_currency}; it must be "
            f"{MARKETPLACE_CURRENCY}, Amazon.ca's (Amazon.com and Amazon.com.mx orders keep "
            "their own currency and convert to it). Change it in Settings › Organization."
        )
    if not organization.taxes_enabled:
        problems.append("Taxes are not enabled. Turn them on in Settings › Organization.")
    if organization.primary_warehouse_id is None:
        problems.append("No primary warehouse is set. Choose one in Settings › Organization.")
    if problems:
        raise ValidationError(problems)


def consent_url(
    request: HttpRequest, redirect_uri: str, *, reauthorize: SalesChannel | None = None
) -> str:
    """Seller Central's consent page, with a signed, session-bound, single-use state. The
    state names the channel being re-authorized, if any, so the callback cannot be pointed at
    another one."""
    check_prerequisites(Organization.load())
    if not settings.AMAZON_APPLICATION_ID:
        raise ValidationError("AMAZON_APPLICATION_ID is not configured on this server.")
    nonce = secrets.token_urlsafe(24)
    request.session[STATE_SESSION_KEY] = nonce
    state = signing.dumps(
        {
            "nonce": nonce,
            "user": request.user.pk,
            "channel": reauthorize.pk if reauthorize is not None else None,
        },
        salt=STATE_SALT,
    )
    query = {
        "application_id": settings.AMAZON_APPLICATION_ID,
        "state": state,
        "redirect_uri": redirect_uri,
    }
    if settings.AMAZON_APPLICATION_BETA:
        query["version"] = "beta"
    seller_central = settings.AMAZON_SELLER_CENTRAL_URL.rstrip("/")
    return f"{seller_central}/apps/authorize/consent?{urlencode(query)}"


def check_state(request: HttpRequest, state: str) -> int | None:
    """The state must be ours, recent, for this user and session, and unused. Used up here.
    Returns the id of the channel being re-authorized, if any."""
    expected = request.session.pop(STATE_SESSION_KEY, None)
    try:
        data = signing.loads(state, salt=STATE_SALT, max_age=STATE_MAX_AGE)
    except signing.SignatureExpired:
        raise ValidationError("The authorization took too long; start again.") from None
    except signing.BadSignature:
        raise ValidationError("The authorization request is not valid (bad state).") from None
    if not expected or data.get("nonce") != expected or data.get("user") != request.user.pk:
        raise ValidationError(
            "This authorization was already used or belongs to another session; start again."
        )
    channel_id = data.get("channel")
    return channel_id if isinstance(channel_id, int) else None


def complete_oauth(
    request: HttpRequest, *, state: str, code: str, selling_partner_id: str
) -> SalesChannel:
    channel_id = check_state(request, state)
    if not code or not selling_partner_id:
        raise ValidationError("Amazon did not send an authorization code and seller id.")
    reauthorize = None
    if channel_id is not None:
        reauthorize = SalesChannel.objects.filter(id=channel_id).first()
        if reauthorize is None:
            raise ValidationError("The channel being re-authorized no longer exists.")
    try:
        _trusted_endpoint(check_lwa_endpoint, settings.AMAZON_LWA_ENDPOINT, "lwa_endpoint")
        refresh_token = exchange_authorization_code(
            code,
            lwa_endpoint=settings.AMAZON_LWA_ENDPOINT,
            client_id=settings.AMAZON_LWA_CLIENT_ID,
            client_secret=settings.AMAZON_LWA_CLIENT_SECRET,
        )
    except AmazonError as error:
        raise ValidationError(f"Amazon rejected the authorization: {error}") from None
    user = request.user if isinstance(request.user, User) else None
    return connect_channel(
        name="Amazon.ca",
        seller_id=selling_partner_id,
        refresh_token=refresh_token,
        user=user,
        reauthorize=reauthorize,
        actor=audit.Actor.from_request(request),
        via="oauth",
    )


class ChannelAlreadyConnected(ValidationError):
    """This seller and marketplace already have a channel: re-authorize it instead."""

    def __init__(self, channel: SalesChannel) -> None:
        self.channel = channel
        super().__init__(
            f"Seller {channel.seller_id} is already connected on {channel.name}. "
            "Re-authorize that channel instead of connecting it a second time."
        )


def normalize_seller_id(seller_id: str) -> str:
    """Amazon's seller ids (merchant tokens) are upper-case letters and digits."""
    normalized = seller_id.strip().upper()
    if normalized and not SELLER_ID_PATTERN.fullmatch(normalized):
        raise ValidationError(
            f"{seller_id.strip()!r} is not a seller id: Amazon's are letters and digits, "
            "e.g. A3ABCDEFGHIJKL (Seller Central › Settings › Account Info › Merchant Token)."
        )
    return normalized


def _trusted_endpoint(check: Callable[[str], None], url: str, field: str) -> None:
    try:
        check(url)
    except UntrustedUrl as untrusted:
        raise ValidationError({field: str(untrusted)}) from None


def verify_authorization(connection: Connection, marketplace: MarketplaceInfo) -> None:
    """Ask Amazon what this authorization covers before anything is saved.

    The refresh token must work; its marketplaces (Sellers API getMarketplaceParticipations)
    must include this one, with the seller selling there. Amazon reads no seller id back (not
    in that answer, nor at Login with Amazon), but the Listings API names the seller in its
    path and refuses any other seller's id: one listings page proves the seller id belongs to
    this authorization, so a mistyped or forged id never becomes a second channel."""
    try:
        verify_refresh_token(connection)
    except AmazonAuthError as error:
        raise ValidationError(str(error)) from None
    except AmazonError as error:
        raise ValidationError(f"Could not reach Amazon to check the token: {error}") from None
    client = AmazonClient(connection)
    try:
        participations = client.get_marketplace_participations()
    except AmazonAuthError as error:
        raise ValidationError(
            f"Amazon refuses to say which marketplaces this authorization covers: {error}"
        ) from None
    except AmazonError as error:
        raise ValidationError(
            f"Could not ask Amazon which marketplaces this authorization covers: {error}"
        ) from None
    wanted, name = connection.marketplace_id, marketplace.name
    covered = {p.marketplace_id: p for p in participations}
    if wanted not in covered:
        raise ValidationError(
            f"This authorization does not cover {name} (marketplace {wanted}); it covers "
            f"{', '.join(sorted(covered)) or 'no marketplace'}. Authorize with the seller "
            f"account that sells on {name}."
        )
    if not covered[wanted].is_participating:
        raise ValidationError(
            f"The seller of this authorization does not sell on {name} (marketplace "
            f"{wanted}): its participation there is inactive. Authorize with the account that "
            f"sells on {name}."
        )
    try:
        client.search_listings()
    except (AmazonAuthError, AmazonRejected) as refused:
        raise ValidationError(
            f"Amazon refuses seller id {connection.seller_id} for this authorization "
            f"({refused}). Check the seller id (Seller Central › Settings › Account Info › "
            "Merchant Token) and that the application has the Product Listing role."
        ) from None
    except AmazonError as error:
        raise ValidationError(f"Could not ask Amazon to confirm the seller id: {error}") from None


def connect_channel(
    *,
    name: str,
    seller_id: str,
    refresh_token: str,
    user: User | None = None,
    spapi_endpoint: str | None = None,
    lwa_endpoint: str | None = None,
    reauthorize: SalesChannel | None = None,
    initial_lookback: timedelta = timedelta(days=7),
    actor: audit.Actor | None = None,
    via: str = "token",
    marketplace: str = SalesChannel.Marketplace.AMAZON_CA,
) -> SalesChannel:
    """Create the channel for this seller and start the initial sync, or, with ``reauthorize``,
    give that channel a new authorization of the same seller. Amazon confirms the
    authorization first (``verify_authorization``); a seller already connected is refused with
    :class:`ChannelAlreadyConnected`.

    Writes the ``channel-connected`` audit event: by ``actor`` (default: ``user``, from no
    address), with ``via`` saying how (``token``, ``oauth``, ``command``)."""
    check_prerequisites(Organization.load())
    if reauthorize is not None:
        marketplace = reauthorize.marketplace
    info = MARKETPLACES.get(marketplace)
    if info is None:
        raise ValidationError(f"{marketplace!r} is not a marketplace this product sells on.")
    seller_id = normalize_seller_id(seller_id)
    refresh_token = refresh_token.strip()
    if not seller_id or not refresh_token:
        raise ValidationError("A seller id and a refresh token are both required.")
    if not timedelta(0) < initial_lookback <= timedelta(days=730):
        raise ValidationError("The initial look-back must be between 1 day and 2 years.")
    if reauthorize is not None and reauthorize.seller_id.upper() != seller_id:
        raise ValidationError(
            f"This authorization is for seller {seller_id}, but {reauthorize.name} is seller "
            f"{reauthorize.seller_id}. Sign in to Seller Central as that seller, or connect "
            "the other seller as a new channel."
        )
    if reauthorize is None:
        existing = _channel_of(seller_id, info)
        if existing is not None:
            raise ChannelAlreadyConnected(existing)
    if reauthorize is not None:
        spapi_endpoint = spapi_endpoint or reauthorize.spapi_endpoint
        lwa_endpoint = lwa_endpoint or reauthorize.lwa_endpoint
    spapi_endpoint = spapi_endpoint or settings.AMAZON_SPAPI_ENDPOINT
    lwa_endpoint = lwa_endpoint or settings.AMAZON_LWA_ENDPOINT
    # Before any credential leaves: Amazon's hosts only.
    _trusted_endpoint(check_spapi_endpoint, spapi_endpoint, "spapi_endpoint")
    _trusted_endpoint(check_lwa_endpoint, lwa_endpoint, "lwa_endpoint")
    verify_authorization(
        Connection(
            seller_id=seller_id,
            marketplace_id=info.marketplace_id,
            refresh_token=refresh_token,
            spapi_endpoint=spapi_endpoint,
            lwa_endpoint=lwa_endpoint,
            client_id=settings.AMAZON_LWA_CLIENT_ID,
            client_secret=settings.AMAZON_LWA_CLIENT_SECRET,
        ),
        info,
    )
    try:
        with transaction.atomic():
            if reauthorize is not None:
                channel = SalesChannel.objects.select_for_update().get(id=reauthorize.id)
                created = False
            else:
                channel = SalesChannel(
                    name=name,
                    seller_id=seller_id,
                    marketplace=info.code,
                    marketplace_id=info.marketplace_id,
                    currency=info.currency,
                    connected_by=user,
                )
                created = True
            # The seller's one credential, on every channel of the seller: a re-authorization
            # (or a new marketplace) leaves none of them with an older one.
            siblings = SalesChannel.objects.select_for_update().filter(seller_id__iexact=seller_id)
            for sibling in [channel, *siblings.exclude(id=channel.id)]:
                sibling.refresh_token = refresh_token
                sibling.spapi_endpoint = spapi_endpoint
                sibling.lwa_endpoint = lwa_endpoint
                if sibling is channel or (
                    sibling.status == SalesChannel.Status.NEEDS_REAUTHORIZATION
                ):
                    # A channel the seller disabled stays disabled.
                    sibling.status = SalesChannel.Status.ACTIVE
                    sibling.status_reason = ""
                sibling.save()
            if created:
                request_sync(
                    channel,
                    SyncRun.Kind.ITEMS,
                    SyncRun.Trigger.INITIAL,
                    requested_by_id=user.pk if user else None,
                )
                request_sync(
                    channel,
                    SyncRun.Kind.ORDERS,
                    SyncRun.Trigger.INITIAL,
                    window_start=timezone.now() - initial_lookback,
                    requested_by_id=user.pk if user else None,
                )
            audit.record(
                actor if actor is not None else audit.Actor(user=user),
                "channel-connected",
                target=channel,
                detail={"via": via} if created else {"via": via, "reauthorized": True},
            )
    except IntegrityError:
        # Two connects of one seller at once: the database constraint let one through.
        existing = _channel_of(seller_id, info)
        if existing is None:
            raise
        raise ChannelAlreadyConnected(existing) from None
    return channel


def _channel_of(seller_id: str, marketplace: MarketplaceInfo) -> SalesChannel | None:
    return SalesChannel.objects.filter(
        seller_id__iexact=seller_id, marketplace_id=marketplace.marketplace_id
    ).first()


@dataclass(frozen=True)
class SellerMarketplace:
    """A North-American marketplace as this seller's authorization sees it."""

    info: MarketplaceInfo
    covered: bool  # the authorization covers it
    participating: bool  # the seller sells there
    channel: SalesChannel | None  # its channel here, if any


def seller_marketplaces(channel: SalesChannel) -> list[SellerMarketplace]:
    """Ask Amazon (getMarketplaceParticipations) which of the North-American marketplaces the
    channel's authorization covers, and which already have a channel here."""
    try:
        participations = client_for(channel).get_marketplace_participations()
    except AmazonError as error:
        raise ValidationError(
            f"Could not ask Amazon which marketplaces this authorization covers: {error}"
        ) from None
    by_id = {p.marketplace_id: p for p in participations}
    channels = {
        c.marketplace_id: c
        for c in SalesChannel.objects.filter(seller_id__iexact=channel.seller_id)
    }
    return [
        SellerMarketplace(
            info=info,
            covered=info.marketplace_id in by_id,
            participating=bool(
                info.marketplace_id in by_id and by_id[info.marketplace_id].is_participating
            ),
            channel=channels.get(info.marketplace_id),
        )
        for info in MARKETPLACES.values()
    ]


def add_marketplace(
    channel: SalesChannel,
    marketplace: str,
    *,
    user: User | None = None,
    actor: audit.Actor | None = None,
) -> SalesChannel:
    """Another marketplace of the same seller as a channel of its own, from the authorization
    the seller already gave (Amazon confirms it covers that marketplace first). Its settings
    start at the defaults; its initial syncs start at once."""
    info = MARKETPLACES.get(marketplace)
    if info is None:
        raise ValidationError(f"{marketplace!r} is not a marketplace this product sells on.")
    if channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION:
        raise ValidationError(
            f"Amazon no longer accepts {channel.name}'s authorization: re-authorize it first."
        )
    return connect_channel(
        name=info.name,
        seller_id=channel.seller_id,
        refresh_token=channel.refresh_token,
        user=user,
        spapi_endpoint=channel.spapi_endpoint,
        lwa_endpoint=channel.lwa_endpoint,
        actor=actor,
        via="marketplace-added",
        marketplace=info.code,
    )
