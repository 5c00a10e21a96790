"""Validators built from Amazon's published models (``../shared/spapi-models``).

Used by the contract tests (``tests/contract``) and available to the product's client tests:
the models are Swagger 2.0, so each response schema is validated with a Draft 4 validator over
a registry holding the whole model file (``#/definitions/...`` references resolve in it).
Needs ``jsonschema`` (a dev dependency); the running simulator does not import this module.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any

import jsonschema
from jsonschema.protocols import Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4, DRAFT7

from .documents import default_models_dir

MODELS_DIR = default_models_dir()

# operationId -> the model file that defines it (getOrder is the 2026-01-01 one, not v0's).
OPERATION_MODELS = {
    "searchOrders": "orders_2026-01-01.json",
    "getOrder": "orders_2026-01-01.json",
    "confirmShipment": "ordersV0.json",
    "createReport": "reports_2021-06-30.json",
    "getReport": "reports_2021-06-30.json",
    "getReportDocument": "reports_2021-06-30.json",
    "createFeedDocument": "feeds_2021-06-30.json",
    "createFeed": "feeds_2021-06-30.json",
    "getFeed": "feeds_2021-06-30.json",
    "getFeedDocument": "feeds_2021-06-30.json",
    "patchListingsItem": "listingsItems_2021-08-01.json",
    "getListingsItem": "listingsItems_2021-08-01.json",
    "searchListingsItems": "listingsItems_2021-08-01.json",
    "getInventorySummaries": "fbaInventory.json",
    "getMarketplaceParticipations": "sellers.json",
    "listTransactions": "finances_2024-06-19.json",
    **dict.fromkeys(
        (
            "createDestination",
            "getDestinations",
            "getDestination",
            "deleteDestination",
            "createSubscription",
            "getSubscription",
            "getSubscriptionById",
            "deleteSubscriptionById",
        ),
        "notifications.json",
    ),
}


def _strict(node: Any, definitions: dict[str, Any] | None = None) -> Any:
    """Forbid properties a definition does not declare, so invented field names fail.

    Swagger 2.0 objects allow extra properties unless they say otherwise; Amazon's clients
    ignore unknown fields, but a simulator that invents them would teach the product wrong.
    An ``allOf`` of objects (Notifications' EventFilter) is first merged into one object:
    forbidding extras in each part would refuse every property the other parts declare.
    """
    if definitions is None and isinstance(node, dict):
        definitions = node.get("definitions", {})
    if isinstance(node, dict):
        if "allOf" in node:
            node = _merged_all_of(node, definitions or {})
        result = {key: _strict(value, definitions) for key, value in node.items()}
        if "properties" in node and "additionalProperties" not in node:
            result["additionalProperties"] = False
        return result
    if isinstance(node, list):
        return [_strict(value, definitions) for value in node]
    return node


def _merged_all_of(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """``{"allOf": [A, B]}`` as one object schema with A's and B's properties and required
    fields (parts named by ``#/definitions/...`` are looked up); left alone unless every
    part is such an object."""
    parts = []
    for part in node["allOf"]:
        ref = part.get("$ref", "") if isinstance(part, dict) else ""
        if ref.startswith("#/definitions/"):
            part = definitions.get(ref.removeprefix("#/definitions/"), {})
        if not isinstance(part, dict) or "allOf" in part or "properties" not in part:
            return node
        parts.append(part)
    merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
    merged["type"] = "object"
    merged["properties"] = {k: v for part in parts for k, v in part["properties"].items()}
    required = [name for part in parts for name in part.get("required", [])]
    if required:
        merged["required"] = sorted(set(required))
    return merged


@cache
def load_model(name: str) -> dict[str, Any]:
    return json.loads((MODELS_DIR / name).read_text(encoding="utf-8"))


def find_operation(model: dict[str, Any], operation_id: str) -> dict[str, Any]:
    for methods in model["paths"].values():
        for operation in methods.values():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return operation
    raise KeyError(operation_id)


@cache
def response_validator(operation_id: str, status: str, strict: bool = True) -> Validator | None:
    """A Draft 4 validator for the response schema of ``operation_id`` at ``status``.

    The model is registered as one resource so ``#/definitions/...`` references resolve.
    Returns None when the model documents the status without a body (e.g. 204).
    """
    name = OPERATION_MODELS[operation_id]
    model = load_model(name)
    responses = find_operation(model, operation_id)["responses"]
    if status not in responses:
        raise AssertionError(f"{operation_id} does not document HTTP {status}")
    schema = responses[status].get("schema")
    if schema is None:
        return None
    document = _strict(copy.deepcopy(model)) if strict else model
    uri = f"urn:spapi-model:{name}"
    registry: Registry[Any] = Registry().with_resource(
        uri, Resource.from_contents(document, default_specification=DRAFT4)
    )
    root = (
        {"$ref": f"{uri}{schema['$ref']}"}
        if "$ref" in schema
        else {**schema, "definitions": document.get("definitions", {})}
    )
    return jsonschema.Draft4Validator(root, registry=registry)


@cache
def json_schema_validator(name: str) -> Validator:
    """A Draft 7 validator for one of the listings feed JSON schemas."""
    schema = load_model(name)
    registry: Registry[Any] = Registry().with_resource(
        name, Resource.from_contents(schema, default_specification=DRAFT7)
    )
    return jsonschema.Draft7Validator(schema, registry=registry)


@cache
def notification_validator(name: str) -> Validator:
    """A Draft 7 validator for a notification's schema (``OrderChangeNotification.json``,
    ...), strict as the response validators are: fields the schema does not declare fail."""
    schema = _strict(copy.deepcopy(load_model(name)))
    return jsonschema.Draft7Validator(schema)


def errors_of(validator: Validator, instance: Any) -> list[str]:
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in validator.iter_errors(instance)
    ]
