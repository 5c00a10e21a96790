"""Credentials, access tokens and buyers' personal data never reach logs, exception reports,
the sync history, error pages or the admin (docs/SECURITY.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory, override_settings
from django.urls import path

from inventory_sync.celery import app as celery_app
from inventory_sync.logging import RedactingExceptionReporterFilter, RedactingFilter, redact
from marketplaces.models import SalesChannel, SalesOrder
from marketplaces.tasks import sync_orders_task
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.factories import SalesChannelFactory, SalesOrderFactory
from warehouses.models import Item

pytestmark = pytest.mark.django_db

NOISY_LOGGERS = ("sp_api", "httpx", "httpcore", "urllib3", "marketplaces", "synchistory", "celery")


def run_order_sync(channel: SalesChannel) -> SyncRun:
    """One order sync, its retries after transient faults run at once (eagerly)."""
    run = history.start_run(channel.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)
    propagates = celery_app.conf.task_eager_propagates
    celery_app.conf.task_eager_propagates = False  # an eager retry then re-runs the task
    try:
        sync_orders_task.apply(args=(run.id,))
    finally:
        celery_app.conf.task_eager_propagates = propagates
    run.refresh_from_db()
    return run


def seeded_personal_data(sim: Simulator) -> set[str]:
    """Every buyer name, e-mail, phone, street and postal code the simulator holds."""
    values: set[str] = set()
    for order in sim_get(sim, "/_sim/orders")["orders"]:
        buyer = order.get("buyer") or {}
        address = (order.get("recipient") or {}).get("deliveryAddress") or {}
        found = [buyer.get("buyerName"), buyer.get("buyerEmail")]
        found += [address.get(k) for k in ("name", "phone", "postalCode", "addressLine1")]
        values |= {str(value) for value in found if value}
    return values


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    yield caplog


def everything_written(caplog: pytest.LogCaptureFixture) -> str:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
    lines = [handler.format(record) for record in caplog.records]
    history = [run.error for run in SyncRun.objects.all()]
    history += [record.reason for record in SyncRecord.objects.all()]
    channels = [channel.status_reason for channel in SalesChannel.objects.all()]
    return "\n".join(lines + history + channels)


def test_it_redacts_tokens_secrets_and_personal_data() -> None:
    line = (
        "POST refresh_token=Atzr|IwEBIsecret&client_secret=abc123 headers "
        "{'x-amz-access-token': 'Atza|IwEFtoken'} buyer jo@example.com, K1A 0B1, "
        "+1 416-555-0123, (613) 555-0199 order 702-1234567-1234567 item 4165550123"
    )
    assert redact(line) == (
        "POST refresh_token=[redacted]&client_secret=[redacted] headers "
        "{'x-amz-access-token': '[redacted]'} buyer [email], [postal code], "
        "[phone], [phone] order 702-1234567-1234567 item 4165550123"
    )
    assert redact("bare Atza|abc and Atzr%7Cdef") == "bare [redacted] and [redacted]"


def test_it_installs_the_filter_on_every_configured_handler() -> None:
    logging_config: dict[str, Any] = settings.LOGGING
    assert logging_config["filters"]["redact"]["()"] == "inventory_sync.logging.RedactingFilter"
    for name, handler in logging_config["handlers"].items():
        assert "redact" in handler.get("filters", []), f"handler {name} has no redaction"
    console = next(
        handler
        for handler in logging.getLogger().handlers
        if any(isinstance(f, RedactingFilter) for f in handler.filters)
    )
    # A record made without the record factory (as a third-party library might) is scrubbed
    # by the handler's filter all the same.
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "secret %s", ("Atza|x",), None)
    assert console.filter(record)
    assert record.getMessage() == "secret [redacted]"


def test_it_scrubs_records_for_any_handler_even_in_tracebacks(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    try:
        raise RuntimeError("token Atzr|from-an-exception for buyer jo@example.com")
    except RuntimeError:
        logging.getLogger("marketplaces.test").exception(
            "failed for %s with %s", "jo@example.com", {"client_secret": "hush"}
        )
    caplog.set_level(logging.DEBUG, logger="sp_api.base.client")
    logging.getLogger("sp_api.base.client").debug("Response: %s", {"buyerName": "Jo Bloggs"})
    text = caplog.text
    for leak in ("Atzr|from", "jo@example.com", "hush", "Jo Bloggs"):
        assert leak not in text
    assert "failed for [email] with {'client_secret': '[redacted]'}" in text
    assert "RuntimeError: token [redacted] for buyer [email]" in text
    assert "Response: [withheld: may contain credentials or personal data]" in text


def test_it_leaks_nothing_in_a_faulty_order_sync_at_debug(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    debug_logs: pytest.LogCaptureFixture,
) -> None:
    sim_post(live_sim, "/_sim/orders", {"count": 5, "fulfillmentStatus": "UNSHIPPED"})
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    sim_post(live_sim, "/_sim/faults", {"operation": "*", "kind": "server_error", "count": 2})
    first = run_order_sync(channel)
    sim_post(live_sim, "/_sim/faults", {"operation": "*", "kind": "malformed", "count": 1})
    sim_post(live_sim, "/_sim/faults", {"operation": "*", "kind": "empty_body", "count": 1})
    run_order_sync(channel)
    sim_post(live_sim, "/_sim/auth/revoke")
    revoked = run_order_sync(channel)

    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    assert SalesOrder.objects.exclude(buyer_name="").count() >= 5  # buyer data did come in
    assert revoked.status == SyncRun.Status.FAILED
    personal = seeded_personal_data(live_sim)
    assert len(personal) > 20
    written = everything_written(debug_logs)
    assert {"httpx", "httpcore"} <= {record.name.split(".")[0] for record in debug_logs.records}
    assert any(record.levelno == logging.DEBUG for record in debug_logs.records)
    leaked = sorted(value for value in personal if value in written)
    assert leaked == []
    assert "Atzr|" not in written
    assert "Atza|" not in written
    assert "simulator-secret" not in written


def test_the_admin_never_shows_credentials_or_buyer_data(admin_client: Client) -> None:
    from accounts.models import User

    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    order = SalesOrderFactory.create(
        buyer_name="Jo Bloggs", buyer_email="jo@example.com", buyer_phone="+1 416-555-0123"
    )
    channel_admin = admin.site._registry[SalesChannel]
    order_admin = admin.site._registry[SalesOrder]
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="alice")
    assert "refresh_token" not in channel_admin.get_fields(request)
    assert not {"buyer_name", "buyer_email", "buyer_phone", "shipping_address"} & set(
        order_admin.get_fields(request)
    )
    for url in (
        f"/admin/marketplaces/salesorder/{order.id}/change/",
        f"/admin/marketplaces/saleschannel/{order.channel_id}/change/",
        "/admin/marketplaces/salesorder/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
        body = response.content.decode()
        for leak in ("Jo Bloggs", "jo@example.com", "416-555-0123", "Atzr|", "gAAAAA"):
            assert leak not in body, (url, leak)


def _explode(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("Atzr|in-an-error-page buyer jo@example.com SECRET_KEY")


urlpatterns = [path("explode/", _explode)]


@override_settings(ROOT_URLCONF=__name__, DEBUG=False)
def test_it_shows_nothing_on_error_pages(admin_client: Client) -> None:
    admin_client.raise_request_exception = False
    response = admin_client.get("/explode/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Atzr|" not in body and "jo@example.com" not in body and "Traceback" not in body
    missing = admin_client.get("/no-such-page/")
    assert missing.status_code == 404
    assert "explode" not in missing.content.decode()  # no URL patterns listed


def test_exception_reports_hide_credentials_in_settings_and_forms() -> None:
    reporter = RedactingExceptionReporterFilter()
    request = RequestFactory().post(
        "/login/", {"username": "sam", "password": "hunter2-hunter2", "otp_token": "123456"}
    )
    posted = reporter.get_post_parameters(request)
    assert posted["username"] == "sam"
    assert posted["password"] == reporter.cleansed_substitute
    assert posted["otp_token"] == reporter.cleansed_substitute
    safe = reporter.get_safe_settings()
    for name in ("SECRET_KEY", "FIELD_ENCRYPTION_KEYS", "AMAZON_LWA_CLIENT_SECRET", "REDIS_URL"):
        assert safe[name] == reporter.cleansed_substitute, name
    assert settings.DEFAULT_EXCEPTION_REPORTER_FILTER == (
        "inventory_sync.logging.RedactingExceptionReporterFilter"
    )


def test_a_channel_repr_never_carries_its_refresh_token() -> None:
    channel = SalesChannelFactory.create(refresh_token="Atzr|in-a-repr")
    assert "Atzr|" not in repr(channel) + str(channel)
