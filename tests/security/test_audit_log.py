"""The audit log: what it records, who may read it, how long it is kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, RequestFactory, override_settings

from accounts import audit
from accounts.models import AuditEvent, User
from accounts.tasks import prune_audit_log_task
from tests.factories import SalesChannelFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_it_records_who_what_target_detail_and_where(admin_user: User) -> None:
    channel = SalesChannelFactory.create(name="Amazon.ca")
    request = RequestFactory().post("/x/", REMOTE_ADDR="203.0.113.5", HTTP_USER_AGENT="Mozilla/5.0")
    request.user = admin_user
    with time_machine.travel(NOW, tick=False):
        event = audit.record(request, "channel-disconnected", target=channel, detail={"a": 1})
    event.refresh_from_db()
    assert (event.user, event.username) == (admin_user, "alice")
    assert event.action == "channel-disconnected"
    assert (event.target_type, event.target_id) == ("marketplaces.SalesChannel", str(channel.id))
    assert event.target_label == "Amazon.ca (Amazon.ca)"
    assert (event.detail, event.created_at) == ({"a": 1}, NOW)
    assert (event.ip_address, event.user_agent) == ("203.0.113.5", "Mozilla/5.0")


def test_it_keeps_the_username_when_the_user_is_deleted(staff_user: User) -> None:
    audit.record(staff_user, "settings-changed")
    staff_user.delete()
    event = AuditEvent.objects.get()
    assert (event.user, event.username) == (None, "sam")


def test_it_scrubs_personal_data_out_of_target_labels() -> None:
    event = audit.record(None, "settings-changed", target=("x", 1, "jo@example.com K1A 0B1"))
    assert event.target_label == "[email] [postal code]"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_it_takes_the_client_ip_from_the_trusted_proxy_only() -> None:
    request = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20"
    )
    assert audit.client_ip(request) == "198.51.100.20"


def test_it_ignores_x_forwarded_for_without_a_trusted_proxy() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert audit.client_ip(request) == "10.0.0.2"


def test_only_admins_read_the_audit_log(
    admin_client: Client, staff_client: Client, client: Client
) -> None:
    assert staff_client.get("/settings/audit-log/").status_code == 403
    assert client.get("/settings/audit-log/").status_code == 302
    response = admin_client.get("/settings/audit-log/")
    assert response.status_code == 200
    assert 'href="/settings/audit-log/"' in response.content.decode()  # in the Settings menu


def test_the_settings_menu_hides_the_audit_log_from_staff(staff_client: Client) -> None:
    assert 'href="/settings/audit-log/"' not in staff_client.get("/").content.decode()


def test_it_filters_by_action_and_user_and_pages_without_counting(
    admin_client: Client, admin_user: User, staff_user: User
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    AuditEvent.objects.all().delete()
    for n in range(120):
        audit.record(staff_user if n % 2 else admin_user, "settings-changed", detail={"n": n})
    audit.record(staff_user, "sync-started")

    with CaptureQueriesContext(connection) as queries:
        first = admin_client.get("/settings/audit-log/", {"action": "settings-changed"})
    assert first.context is not None
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    assert len(first.context["events"]) == 50
    assert first.context["has_older"] is True
    assert first.context["events"][0].detail == {"n": 119}
    third = admin_client.get("/settings/audit-log/", {"action": "settings-changed", "page": "3"})
    assert len(third.context["events"]) == 20
    assert third.context["has_older"] is False
    assert 'page=2" rel="prev"' in third.content.decode()
    by_staff = admin_client.get("/settings/audit-log/", {"user": str(staff_user.id)})
    assert {e.username for e in by_staff.context["events"]} == {"sam"}
    assert by_staff.context["events"][0].action == "sync-started"


def test_it_deletes_events_past_the_retention_period_only() -> None:
    with time_machine.travel(NOW - timedelta(days=400, seconds=1), tick=False):
        old = audit.record(None, "settings-changed")
    with time_machine.travel(NOW - timedelta(days=399, hours=23), tick=False):
        kept = audit.record(None, "settings-changed")
    with time_machine.travel(NOW, tick=False):
        assert prune_audit_log_task.apply().get() == 1
    assert list(AuditEvent.objects.values_list("id", flat=True)) == [kept.id]
    assert not AuditEvent.objects.filter(id=old.id).exists()


@override_settings(AUDIT_LOG_RETENTION_DAYS=90)
def test_it_refuses_to_keep_the_audit_log_less_than_a_year() -> None:
    with pytest.raises(ImproperlyConfigured, match="at least 365 days"):
        audit.prune()


def test_it_schedules_the_retention_job_daily() -> None:
    from django.conf import settings

    entry: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE["prune-audit-log"]
    assert entry["task"] == "accounts.tasks.prune_audit_log_task"
    assert entry["schedule"] == timedelta(days=1)
    assert entry["options"]["expires"] == 3600
    assert settings.AUDIT_LOG_RETENTION_DAYS == 400


def test_the_admin_site_shows_the_audit_log_read_only(admin_client: Client) -> None:
    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    audit.record(None, "settings-changed")
    assert admin_client.get("/admin/accounts/auditevent/").status_code == 200
    assert admin_client.get("/admin/accounts/auditevent/add/").status_code == 403


def test_the_pages_write_audit_events_for_changes_and_syncs(admin_client: Client) -> None:
    from accounts.models import AuditEvent
    from tests.factories import SalesChannelFactory, WarehouseFactory

    warehouse = WarehouseFactory.create(name="Toronto")
    channel = SalesChannelFactory.create()
    admin_client.post(
        "/settings/organization/",
        {
            "name": "Maple",
            "base_currency": "CAD",
            "taxes_enabled": "on",
            "primary_warehouse": warehouse.id,
            "order_sync_preference": "confirmed",
            "language": "en-ca",
        },
    )
    admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/limits/", {"safety_buffer": 2}
    )
    admin_client.post(f"/settings/integrations/marketplaces/{channel.id}/disable/")
    admin_client.post(f"/settings/integrations/marketplaces/{channel.id}/enable/")
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions[-4:] == [
        "settings-changed",
        "settings-changed",
        "channel-disconnected",
        "channel-enabled",
    ]


def test_the_audit_log_names_the_security_contact(admin_client: Client) -> None:
    with override_settings(SECURITY_CONTACT_EMAIL="security@shop.example"):
        page = admin_client.get("/settings/audit-log/").content.decode()
    assert 'href="mailto:security@shop.example"' in page
    with override_settings(SECURITY_CONTACT_EMAIL=""):
        page = admin_client.get("/settings/audit-log/").content.decode()
    assert "No security contact is set" in page
