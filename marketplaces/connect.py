"""Connecting an Amazon.ca seller account: OAuth state, prerequisites, the channel."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from accounts.models import User
from marketplaces.amazon.client import (
    Connection,
    exchange_authorization_code,
    verify_refresh_token,
)
from marketplaces.amazon.errors import AmazonAuthError, AmazonError
from marketplaces.models import AMAZON_CA_MARKETPLACE_ID, SalesChannel
from marketplaces.services import request_sync
from synchistory.models import SyncRun
from warehouses.models import Organization

STATE_SALT = "marketplaces.amazon.oauth-state"
STATE_SESSION_KEY = "amazon_oauth_nonce"
# Amazon's authorization code lives five minutes; the whole round trip gets a little more.
STATE_MAX_AGE = timedelta(minutes=10)
MARKETPLACE_CURRENCY = "CAD"


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


def consent_url(request: HttpRequest, redirect_uri: str) -> str:
    """Seller Central's consent page, with a signed, session-bound, single-use state."""
    check_prerequisites(Organization.load())
    if not settings.AMAZON_APPLICATION_ID:
        raise ValidationError("AMAZON_APPLICATION_ID is not configured on this server.")
    nonce = secrets.token_urlsafe(24)
    request.session[STATE_SESSION_KEY] = nonce
    state = signing.dumps({"nonce": nonce, "user": request.user.pk}, salt=STATE_SALT)
    query = {
        "application_id": settings.AMAZON_APPLICATION_ID,
        "state": state,
        "redirect_uri": redirect_uri,
    }
    if settings.AMAZON_APPLICATION_BETA:
        query["version"] = "beta"
    seller_central = settings.AMAZON_SELLER_CENTRAL_URL.rstrip("/")
    return f"{seller_central}/apps/authorize/consent?{urlencode(query)}"


def check_state(request: HttpRequest, state: str) -> None:
    """The state must be ours, recent, for this user and session, and unused. Used up here."""
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


def complete_oauth(
    request: HttpRequest, *, state: str, code: str, selling_partner_id: str
) -> SalesChannel:
    check_state(request, state)
    if not code or not selling_partner_id:
        raise ValidationError("Amazon did not send an authorization code and seller id.")
    try:
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
        verified=True,
        actor=audit.Actor.from_request(request),
        via="oauth",
    )


def connect_channel(
    *,
    name: str,
    seller_id: str,
    refresh_token: str,
    user: User | None = None,
    spapi_endpoint: str | None = None,
    lwa_endpoint: str | None = None,
    verified: bool = False,
    initial_lookback: timedelta = timedelta(days=7),
    actor: audit.Actor | None = None,
    via: str = "token",
) -> SalesChannel:
    """Create or re-authorize the channel for this seller, then start the initial sync.

    Writes the ``channel-connected`` audit event: by ``actor`` (default: ``user``, from no
    address), with ``via`` saying how (``token``, ``oauth``, ``command``)."""
    check_prerequisites(Organization.load())
    seller_id = seller_id.strip()
    refresh_token = refresh_token.strip()
    if not seller_id or not refresh_token:
        raise ValidationError("A seller id and a refresh token are both required.")
    if not timedelta(0) < initial_lookback <= timedelta(days=730):
        raise ValidationError("The initial look-back must be between 1 day and 2 years.")
    spapi_endpoint = spapi_endpoint or settings.AMAZON_SPAPI_ENDPOINT
    lwa_endpoint = lwa_endpoint or settings.AMAZON_LWA_ENDPOINT
    if not verified:
        try:
            verify_refresh_token(
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
        except AmazonAuthError as error:
            raise ValidationError(str(error)) from None
        except AmazonError as error:
            raise ValidationError(f"Could not reach Amazon to check the token: {error}") from None
    with transaction.atomic():
        channel, created = SalesChannel.objects.select_for_update().get_or_create(
            seller_id=seller_id,
            marketplace_id=AMAZON_CA_MARKETPLACE_ID,
            defaults={"name": name, "connected_by": user},
        )
        channel.refresh_token = refresh_token
        channel.spapi_endpoint = spapi_endpoint
        channel.lwa_endpoint = lwa_endpoint
        channel.status = SalesChannel.Status.ACTIVE
        channel.status_reason = ""
        if created:
            channel.name = name
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
            detail={"via": via},
        )
    return channel
