"""Finances API 2024-06-19: ``listTransactions`` (shipments' payments, refunds, concessions)."""

from __future__ import annotations

import bisect
from datetime import timedelta

from werkzeug.wrappers import Request

from ..returns import Transaction, transaction_json
from ..state import AccessToken, SimState
from .common import ApiError, Operation, Result, b64decode, b64encode, date_param, invalid

REFUSED_TOKEN = "The nextToken is not valid."  # noqa: S105 - an error message, no secret
MAX_SPAN = timedelta(days=180)


def list_transactions(state: SimState, request: Request, access: AccessToken) -> Result:
    now = state.now()
    latest = now - timedelta(seconds=state.config.search_lag_seconds)
    token = request.args.get("nextToken")
    if token:
        try:
            query = b64decode(token)
            after, before = float(query["a"]), float(query["b"])
            market, status = query["m"], query["s"]
            order_id, offset = query["o"], int(query["k"])
        except (ApiError, KeyError, TypeError, ValueError):
            raise invalid(REFUSED_TOKEN) from None
    else:
        name = request.args.get("relatedIdentifierName")
        value = request.args.get("relatedIdentifierValue")
        if name not in (None, "ORDER_ID", "FINANCIAL_EVENT_GROUP_ID"):
            raise invalid("relatedIdentifierName must be ORDER_ID or FINANCIAL_EVENT_GROUP_ID.")
        if name and not value:
            raise invalid("relatedIdentifierValue is required with relatedIdentifierName.")
        order_id = value if name == "ORDER_ID" else None
        posted_after = date_param(request, "postedAfter")
        posted_before = date_param(request, "postedBefore")
        if posted_after is None and not name:
            raise invalid("postedAfter is required when no related identifier is given.")
        if posted_before is None:
            posted_before = latest
        elif posted_before > latest:
            raise invalid("postedBefore must be more than two minutes before the request.")
        if posted_after is not None and posted_after > latest:
            raise invalid("postedAfter must be more than two minutes before the request.")
        if posted_after is not None and posted_before <= posted_after:
            raise invalid("postedBefore must be later than postedAfter.")
        after = posted_after.timestamp() if posted_after else 0.0
        before = posted_before.timestamp()
        if posted_after is not None and posted_before - posted_after > MAX_SPAN:
            before = after  # Amazon: more than 180 days apart, the response is empty
        market = request.args.get("marketplaceId")
        status = request.args.get("transactionStatus")
        offset = 0

    transactions = state.transactions
    if offset == 0:
        times = [t.posted.timestamp() for t in transactions]
        offset = bisect.bisect_left(times, after)
    page: list[Transaction] = []
    position = offset
    size = state.config.transactions_page_size
    while position < len(transactions) and len(page) < size:
        transaction = transactions[position]
        posted = transaction.posted.timestamp()
        if posted >= before:
            position = len(transactions)
            break
        position += 1
        if market and transaction.order.marketplace_id != market:
            continue
        if status and status != "RELEASED":
            continue
        if order_id and transaction.order.order_id != order_id:
            continue
        page.append(transaction)
    payload: dict[str, object] = {"transactions": [transaction_json(t) for t in page]}
    more = position < len(transactions) and transactions[position].posted.timestamp() < before
    if more:
        payload["nextToken"] = b64encode(
            {"a": after, "b": before, "m": market, "s": status, "o": order_id, "k": position}
        )
    return 200, {"payload": payload}


OPERATIONS = [
    Operation("/finances/2024-06-19/transactions", "GET", "listTransactions", list_transactions),
]
