"""Connecting an Amazon.ca seller account: OAuth state, prerequisites, the channel."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
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
from marketplaces.amazon.errors import AmazonAuthError, AmazonError, AmazonRejected
from marketplaces.endpoints import UntrustedUrl, check_lwa_endpoint, check_spapi_endpoint
from marketplaces.models import AMAZON_CA_MARKETPLACE_ID, SalesChannel
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
            f"The base currency is {organization.base_currency}; Amazon.ca sells in "
            f"{MARKETPLACE_CURRENCY}. Change it in Settings › Organization."
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


def verify_authorization(connection: Connection) -> None:
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
    wanted = connection.marketplace_id
    covered = {p.marketplace_id: p for p in participations}
    if wanted not in covered:
        raise ValidationError(
            f"This authorization does not cover Amazon.ca (marketplace {wanted}); it covers "
            f"{', '.join(sorted(covered)) or 'no marketplace'}. Authorize with the seller "
            "account that sells on Amazon.ca."
        )
    if not covered[wanted].is_participating:
        raise ValidationError(
            f"The seller of this authorization does not sell on Amazon.ca (marketplace "
            f"{wanted}): its participation there is inactive. Authorize with the account that "
            "sells on Amazon.ca."
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
) -> SalesChannel:
    """Create the channel for this seller and start the initial sync, or, with ``reauthorize``,
    give that channel a new authorization of the same seller. Amazon confirms the
    authorization first (``verify_authorization``); a seller already connected is refused with
    :class:`ChannelAlreadyConnected`.

    Writes the ``channel-connected`` audit event: by ``actor`` (default: ``user``, from no
    address), with ``via`` saying how (``token``, ``oauth``, ``command``)."""
    check_prerequisites(Organization.load())
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
        existing = _channel_of(seller_id)
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
            marketplace_id=AMAZON_CA_MARKETPLACE_ID,
            refresh_token=refresh_token,
            spapi_endpoint=spapi_endpoint,
            lwa_endpoint=lwa_endpoint,
            client_id=settings.AMAZON_LWA_CLIENT_ID,
            client_secret=settings.AMAZON_LWA_CLIENT_SECRET,
        )
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
                    marketplace_id=AMAZON_CA_MARKETPLACE_ID,
                    connected_by=user,
                )
                created = True
            channel.refresh_token = refresh_token
            channel.spapi_endpoint = spapi_endpoint
            channel.lwa_endpoint = lwa_endpoint
            channel.status = SalesChannel.Status.ACTIVE
            channel.status_reason = ""
            channel.save()
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
        existing = _channel_of(seller_id)
        if existing is None:
            raise
        raise ChannelAlreadyConnected(existing) from None
    return channel


def _channel_of(seller_id: str) -> SalesChannel | None:
    return SalesChannel.objects.filter(
        seller_id__iexact=seller_id, marketplace_id=AMAZON_CA_MARKETPLACE_ID
    ).first()
