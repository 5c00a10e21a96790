"""Notifications API v1: destinations (grantless) and subscriptions (the seller's).

``createDestination``, ``getDestinations``, ``getDestination`` and ``deleteDestination`` take
only a grantless token (LWA ``client_credentials``, scope ``sellingpartnerapi::notifications``)
and see the application's destinations. ``createSubscription`` and ``getSubscription`` take
the seller's token and see that seller's subscriptions; ``getSubscriptionById`` and
``deleteSubscriptionById`` are grantless in Amazon's model (any subscription of the
application) and also take the seller's token (that seller's subscriptions), which is what
python-amazon-sp-api sends for them. What the simulator then publishes is in
``spapi_simulator/notifications.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

from werkzeug.wrappers import Request

from ..notifications import (
    ORDER_CHANGE,
    ORDER_CHANGE_TYPES,
    OTHER_AMAZON_TYPES,
    PUBLISHED_TYPES,
    SQS_ARN,
    Destination,
    Subscription,
)
from ..state import AccessToken, SimState
from .common import (
    EITHER,
    GRANTLESS,
    KNOWN_MARKETPLACES,
    ApiError,
    Operation,
    Result,
    invalid,
    json_body,
    not_found,
)


def conflict(message: str) -> ApiError:
    return ApiError(409, "Conflict", message)


def _notification_type(value: str) -> str:
    if value in PUBLISHED_TYPES:
        return value
    if value in OTHER_AMAZON_TYPES:
        raise invalid(
            f"The simulator does not publish {value} notifications; it publishes "
            f"{' and '.join(PUBLISHED_TYPES)}."
        )
    raise invalid(f"{value} is not a valid notificationType.")


# -- destinations (grantless) -----------------------------------------------------------------


def _destination(state: SimState, access: AccessToken, destination_id: str) -> Destination:
    destination = state.destinations.get(destination_id)
    if destination is None or destination.client_id != access.client_id:
        raise not_found(f"Destination {destination_id} was not found.")
    return destination


def create_destination(state: SimState, request: Request, access: AccessToken) -> Result:
    body = json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise invalid("name is required: a text of at most 256 characters.")
    specification = body.get("resourceSpecification")
    if not isinstance(specification, dict) or not specification:
        raise invalid("resourceSpecification is required.")
    if "sqs" not in specification:
        raise invalid(
            "The simulator delivers notifications to Amazon SQS only: "
            "resourceSpecification.sqs.arn is required."
        )
    sqs = specification["sqs"]
    arn = sqs.get("arn") if isinstance(sqs, dict) else None
    if not isinstance(arn, str) or len(arn) > 1000 or SQS_ARN.match(arn) is None:
        raise invalid(
            "resourceSpecification.sqs.arn must be an SQS queue ARN "
            "(arn:aws:sqs:<region>:<account id>:<queue name>)."
        )
    for existing in state.destinations.values():
        if existing.client_id == access.client_id and existing.arn == arn:
            raise conflict(f"A destination for {arn} already exists: {existing.destination_id}.")
    destination = Destination(str(uuid.uuid4()), name, arn, access.client_id)
    state.destinations[destination.destination_id] = destination
    return 200, {"payload": destination.as_json()}


def get_destinations(state: SimState, request: Request, access: AccessToken) -> Result:
    return 200, {
        "payload": [
            destination.as_json()
            for destination in state.destinations.values()
            if destination.client_id == access.client_id
        ]
    }


def get_destination(
    state: SimState, request: Request, access: AccessToken, destination_id: str
) -> Result:
    return 200, {"payload": _destination(state, access, destination_id).as_json()}


def delete_destination(
    state: SimState, request: Request, access: AccessToken, destination_id: str
) -> Result:
    destination = _destination(state, access, destination_id)
    used = [s for s in state.subscriptions.values() if s.destination_id == destination_id]
    if used:
        raise conflict(
            f"Destination {destination_id} has {len(used)} subscription(s): delete them "
            "first (deleteSubscriptionById)."
        )
    del state.destinations[destination.destination_id]
    return 200, {}


# -- subscriptions ----------------------------------------------------------------------------


def _processing_directive(notification_type: str, directive: Any) -> dict[str, Any]:
    """The event filter ORDER_CHANGE supports (order change types, marketplaces)."""
    if not isinstance(directive, dict):
        raise invalid("processingDirective must be an object.")
    unknown = set(directive) - {"eventFilter"}
    if unknown:
        raise invalid(
            "The simulator supports processingDirective.eventFilter only, not "
            f"{', '.join(sorted(unknown))}."
        )
    event_filter = directive.get("eventFilter")
    if notification_type != ORDER_CHANGE:
        raise invalid(f"{notification_type} does not support a processingDirective.")
    if not isinstance(event_filter, dict) or event_filter.get("eventFilterType") != ORDER_CHANGE:
        raise invalid("eventFilter.eventFilterType must be ORDER_CHANGE for ORDER_CHANGE.")
    unknown = set(event_filter) - {"eventFilterType", "orderChangeTypes", "marketplaceIds"}
    if unknown:
        raise invalid(f"ORDER_CHANGE's eventFilter does not take {', '.join(sorted(unknown))}.")
    changes = event_filter.get("orderChangeTypes")
    if changes is not None and (
        not isinstance(changes, list) or any(c not in ORDER_CHANGE_TYPES for c in changes)
    ):
        raise invalid(f"orderChangeTypes must be a list of {', '.join(ORDER_CHANGE_TYPES)}.")
    markets = event_filter.get("marketplaceIds")
    if markets is not None and (
        not isinstance(markets, list) or any(m not in KNOWN_MARKETPLACES for m in markets)
    ):
        raise invalid("marketplaceIds must be a list of North America marketplace ids.")
    return {"eventFilter": dict(event_filter)}


def _mine(access: AccessToken, subscription: Subscription) -> bool:
    """A grantless token sees the application's subscriptions; a seller's token its own."""
    if subscription.client_id != access.client_id:
        return False
    return access.scope is not None or subscription.seller_id == access.seller_id


def create_subscription(
    state: SimState, request: Request, access: AccessToken, notification_type: str
) -> Result:
    kind = _notification_type(notification_type)
    body = json_body(request)
    version = body.get("payloadVersion")
    if version != PUBLISHED_TYPES[kind]:
        raise invalid(f"payloadVersion is required and must be {PUBLISHED_TYPES[kind]} for {kind}.")
    destination_id = body.get("destinationId")
    destination = state.destinations.get(str(destination_id))
    if destination is None or destination.client_id != access.client_id:
        raise invalid(f"destinationId {destination_id} is not a destination of this application.")
    directive = None
    if body.get("processingDirective") is not None:
        directive = _processing_directive(kind, body["processingDirective"])
    for existing in state.subscriptions.values():
        if existing.notification_type == kind and _mine(access, existing):
            raise conflict(f"A subscription to {kind} already exists: {existing.subscription_id}.")
    subscription = Subscription(
        subscription_id=str(uuid.uuid4()),
        notification_type=kind,
        payload_version=str(version),
        destination_id=destination.destination_id,
        client_id=access.client_id,
        seller_id=access.seller_id,
        processing_directive=directive,
    )
    state.subscriptions[subscription.subscription_id] = subscription
    return 200, {"payload": subscription.as_json()}


def get_subscription(
    state: SimState, request: Request, access: AccessToken, notification_type: str
) -> Result:
    kind = _notification_type(notification_type)
    version = request.args.get("payloadVersion")
    for subscription in state.subscriptions.values():
        if (
            subscription.notification_type == kind
            and _mine(access, subscription)
            and version in (None, subscription.payload_version)
        ):
            return 200, {"payload": subscription.as_json()}
    raise not_found(f"No subscription to {kind} was found.")


def _subscription(
    state: SimState, access: AccessToken, notification_type: str, subscription_id: str
) -> Subscription:
    kind = _notification_type(notification_type)
    subscription = state.subscriptions.get(subscription_id)
    if (
        subscription is None
        or subscription.notification_type != kind
        or not _mine(access, subscription)
    ):
        raise not_found(f"Subscription {subscription_id} to {kind} was not found.")
    return subscription


def get_subscription_by_id(
    state: SimState,
    request: Request,
    access: AccessToken,
    notification_type: str,
    subscription_id: str,
) -> Result:
    subscription = _subscription(state, access, notification_type, subscription_id)
    return 200, {"payload": subscription.as_json()}


def delete_subscription_by_id(
    state: SimState,
    request: Request,
    access: AccessToken,
    notification_type: str,
    subscription_id: str,
) -> Result:
    subscription = _subscription(state, access, notification_type, subscription_id)
    del state.subscriptions[subscription.subscription_id]
    return 200, {}


DESTINATIONS = "/notifications/v1/destinations"
SUBSCRIPTIONS = "/notifications/v1/subscriptions/<notification_type>"
OPERATIONS = [
    Operation(DESTINATIONS, "POST", "createDestination", create_destination, GRANTLESS),
    Operation(DESTINATIONS, "GET", "getDestinations", get_destinations, GRANTLESS),
    Operation(
        f"{DESTINATIONS}/<destination_id>", "GET", "getDestination", get_destination, GRANTLESS
    ),
    Operation(
        f"{DESTINATIONS}/<destination_id>",
        "DELETE",
        "deleteDestination",
        delete_destination,
        GRANTLESS,
    ),
    Operation(SUBSCRIPTIONS, "POST", "createSubscription", create_subscription),
    Operation(SUBSCRIPTIONS, "GET", "getSubscription", get_subscription),
    Operation(
        f"{SUBSCRIPTIONS}/<subscription_id>",
        "GET",
        "getSubscriptionById",
        get_subscription_by_id,
        EITHER,
    ),
    Operation(
        f"{SUBSCRIPTIONS}/<subscription_id>",
        "DELETE",
        "deleteSubscriptionById",
        delete_subscription_by_id,
        EITHER,
    ),
]
