"""Settings changes are audited by the service that makes them, whatever the path: a page, a
management command, the Django admin. The admin either goes through those services
or shows the audited fields read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.test import Client

from accounts import audit, services
from accounts.models import AuditEvent, User
from marketplaces import channel_settings, privacy
from marketplaces.models import AMAZON_LWA_ENDPOINT, AMAZON_NA_ENDPOINT, SalesChannel
from spapi_simulator import Simulator
from tests.factories import SalesChannelFactory, WarehouseFactory
from tests.helpers.amazon import connect_from_the_shell
from warehouses import services as warehouse_services
from warehouses.models import Organization, Warehouse

pytestmark = pytest.mark.django_db


def test_it_audits_connect_amazon_run_from_the_command_line(
    live_sim: Simulator, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    connect_from_the_shell(live_sim.base_url, monkeypatch)
    channel = SalesChannel.objects.get()
    event = AuditEvent.objects.get(action="channel-connected")
    assert (event.user, event.username) == (None, "")
    assert (event.target_type, event.target_id) == ("marketplaces.SalesChannel", str(channel.id))
    assert event.detail == {"via": "command"}
    assert (event.ip_address, event.user_agent) == (None, "manage.py connect_amazon")


def test_it_audits_connect_amazon_as_the_user_the_option_names(
    live_sim: Simulator, warehouse: Any, monkeypatch: pytest.MonkeyPatch, admin_user: User
) -> None:
    connect_from_the_shell(live_sim.base_url, monkeypatch, "--user", "alice")
    channel = SalesChannel.objects.get()
    assert channel.connected_by == admin_user
    event = AuditEvent.objects.get(action="channel-connected")
    assert (event.user, event.username, event.detail) == (admin_user, "alice", {"via": "command"})


def test_connect_amazon_refuses_a_user_who_does_not_exist(
    warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMAZON_REFRESH_TOKEN", "Atzr|simulator")
    with pytest.raises(CommandError, match="No active user named 'nobody'"):
        call_command("connect_amazon", "--name", "Shop", "--seller-id", "A3", "--user", "nobody")
    assert not SalesChannel.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_audits_a_role_change_made_through_the_service(
    staff_user: User, admin_user: User
) -> None:
    actor = audit.Actor(user=admin_user, ip_address="203.0.113.5", user_agent="Mozilla/5.0")
    services.do_change_user_role(staff_user, User.Role.ADMIN, actor=actor)
    assert User.objects.get(pk=staff_user.pk).role == "admin"
    event = AuditEvent.objects.get()
    assert (event.action, event.username) == ("role-changed", "alice")
    assert (event.target_type, event.target_id) == ("accounts.User", str(staff_user.pk))
    assert event.detail == {"from": "staff", "to": "admin"}
    assert (event.ip_address, event.user_agent) == ("203.0.113.5", "Mozilla/5.0")


def test_it_writes_no_event_for_a_role_that_does_not_change(staff_user: User) -> None:
    services.do_change_user_role(staff_user, User.Role.STAFF, actor=None)
    assert not AuditEvent.objects.exists()
    with pytest.raises(ValueError, match="Unknown role: owner"):
        services.do_change_user_role(staff_user, "owner", actor=None)


def test_it_audits_granting_and_withdrawing_the_personal_data_permission(
    staff_user: User, admin_user: User
) -> None:
    services.do_set_personal_data_permission(staff_user, True, actor=admin_user)
    assert privacy.can_view_personal_data(User.objects.get(pk=staff_user.pk)) is True
    services.do_set_personal_data_permission(staff_user, True, actor=admin_user)  # no change
    services.do_set_personal_data_permission(staff_user, False, actor=None)
    assert privacy.can_view_personal_data(User.objects.get(pk=staff_user.pk)) is False
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.username, e.target_id, e.detail) for e in events] == [
        (
            "personal-data-access-changed",
            "alice",
            str(staff_user.pk),
            {"permission": "view_personal_data", "granted": True},
        ),
        (
            "personal-data-access-changed",
            "",
            str(staff_user.pk),
            {"permission": "view_personal_data", "granted": False},
        ),
    ]


def test_channel_settings_changed_outside_a_page_are_audited() -> None:
    channel = SalesChannelFactory.create()
    channel_settings.update_channel_settings(channel, actor=None, safety_buffer=3)
    channel_settings.disable_channel(channel, actor=audit.Actor.command("shell"))
    channel_settings.enable_channel(channel, actor=None)
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.action, e.detail, e.user_agent) for e in events] == [
        ("settings-changed", {"setting": "limits", "safety_buffer": 3}, ""),
        ("channel-disconnected", {}, "manage.py shell"),
        ("channel-enabled", {}, ""),
    ]
    assert {e.target_id for e in events} == {str(channel.id)}


def test_warehouse_and_organization_saves_are_audited_by_the_service() -> None:
    warehouse = warehouse_services.save_warehouse(Warehouse(name="Toronto"), actor=None)
    warehouse.is_active = False
    other = warehouse_services.save_warehouse(Warehouse(name="Montréal"), actor=None)
    warehouse_services.set_primary_warehouse(other, actor=None)
    warehouse_services.save_warehouse(warehouse, actor=None)
    organization = Organization.load()
    organization.multi_warehouse_enabled = True
    warehouse_services.save_organization(organization, actor=None)
    events = list(AuditEvent.objects.order_by("id"))
    assert [(e.target_label, e.detail) for e in events] == [
        ("Toronto", {"setting": "warehouse", "changed": ["name"]}),
        ("Montréal", {"setting": "warehouse", "changed": ["name"]}),
        ("Montréal", {"setting": "primary_warehouse"}),
        ("Toronto", {"setting": "warehouse", "changed": ["is_active"]}),
        ("My organization", {"changed": ["multi_warehouse_enabled"]}),
    ]
    assert {e.action for e in events} == {"settings-changed"}


# -- The Django admin -----------------------------------------------------------------------


@pytest.fixture
def superuser_client(admin_client: Client) -> Client:
    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    return admin_client


def _user_form(user: User, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": user.date_joined.strftime("%Y-%m-%d"),
        "date_joined_1": user.date_joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "role": user.role,
    }
    data.update(changes)
    return data


def test_the_admin_changes_role_and_personal_data_access_through_the_audited_services(
    superuser_client: Client, staff_user: User
) -> None:
    response = superuser_client.post(
        f"/admin/accounts/user/{staff_user.pk}/change/",
        _user_form(staff_user, role="admin", view_personal_data="on"),
        REMOTE_ADDR="198.51.100.7",
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    staff_user = User.objects.get(pk=staff_user.pk)
    assert staff_user.role == "admin"
    assert services.has_personal_data_permission(staff_user) is True
    events = list(
        AuditEvent.objects.filter(target_type="accounts.User", target_id=str(staff_user.pk))
        .exclude(action="login")
        .order_by("id")
    )
    assert [(e.action, e.username, e.ip_address, e.detail) for e in events] == [
        ("role-changed", "alice", "198.51.100.7", {"from": "staff", "to": "admin"}),
        (
            "personal-data-access-changed",
            "alice",
            "198.51.100.7",
            {"permission": "view_personal_data", "granted": True},
        ),
    ]


def test_the_admin_cannot_grant_permissions_superuser_or_groups_unaudited(
    superuser_client: Client, staff_user: User
) -> None:
    permission = Permission.objects.get(codename="view_personal_data")
    group = Group.objects.create(name="Support")
    response = superuser_client.post(
        f"/admin/accounts/user/{staff_user.pk}/change/",
        _user_form(
            staff_user,
            is_superuser="on",
            user_permissions=[permission.pk],
            groups=[group.pk],
        ),
    )
    assert response.status_code == 302
    staff_user = User.objects.get(pk=staff_user.pk)
    assert (staff_user.is_superuser, staff_user.role) == (False, "staff")
    assert list(staff_user.user_permissions.all()) == []
    assert list(staff_user.groups.all()) == []
    assert privacy.can_view_personal_data(staff_user) is False

    superuser_client.post(
        f"/admin/auth/group/{group.pk}/change/",
        {"name": "Support", "permissions": [permission.pk]},
    )
    assert list(Group.objects.get(pk=group.pk).permissions.all()) == []


def test_the_admin_shows_a_channels_connection_status_and_settings_read_only(
    superuser_client: Client,
) -> None:
    warehouse = WarehouseFactory.create()
    channel = SalesChannelFactory.create(name="Amazon.ca")
    response = superuser_client.post(
        f"/admin/marketplaces/saleschannel/{channel.pk}/change/",
        {
            "name": "Amazon.ca (shop)",
            "seller_id": "A3OTHER",
            "spapi_endpoint": "https://attacker.example",
            "lwa_endpoint": "https://attacker.example",
            "status": "inactive",
            "sync_stock": "",
            "safety_buffer": "99",
            "mapped_warehouse": str(warehouse.pk),
        },
    )
    assert response.status_code == 302
    channel.refresh_from_db()
    assert channel.name == "Amazon.ca (shop)"
    assert (channel.spapi_endpoint, channel.lwa_endpoint) == (
        AMAZON_NA_ENDPOINT,
        AMAZON_LWA_ENDPOINT,
    )
    assert (channel.status, channel.sync_stock, channel.safety_buffer) == ("active", True, 0)
    assert (channel.seller_id, channel.mapped_warehouse_id) != ("A3OTHER", warehouse.pk)
    assert channel.mapped_warehouse_id is None
    assert superuser_client.get("/admin/marketplaces/saleschannel/add/").status_code == 403
    delete = f"/admin/marketplaces/saleschannel/{channel.pk}/delete/"
    assert superuser_client.post(delete, {"post": "yes"}).status_code == 403
    assert SalesChannel.objects.filter(pk=channel.pk).exists()


def test_the_admin_shows_the_organization_and_warehouses_read_only(
    superuser_client: Client,
) -> None:
    warehouse = WarehouseFactory.create(name="Toronto")
    organization = Organization.load()
    change = f"/admin/warehouses/warehouse/{warehouse.pk}/change/"
    assert superuser_client.get(change).status_code == 200  # viewable
    assert superuser_client.post(change, {"name": "X", "is_active": ""}).status_code == 403
    assert superuser_client.get("/admin/warehouses/warehouse/add/").status_code == 403
    org_change = f"/admin/warehouses/organization/{organization.pk}/change/"
    assert superuser_client.post(org_change, {"name": "X", "base_currency": "USD"}).status_code == (
        403
    )
    warehouse.refresh_from_db()
    assert (warehouse.name, warehouse.is_active) == ("Toronto", True)
    assert Organization.load().base_currency == "CAD"
