"""A superuser (``createsuperuser``) is an admin: its role, its label and every check agree."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.test import Client

from accounts import services
from accounts.models import User
from tests.helpers.personas import PASSWORD

pytestmark = pytest.mark.django_db


def test_createsuperuser_makes_an_admin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", PASSWORD)
    call_command("createsuperuser", "--noinput", username="root", email="root@example.com")

    root = User.objects.get(username="root")
    assert root.role == User.Role.ADMIN
    assert root.is_org_admin
    client = Client()
    client.force_login(root)
    assert "root · Admin" in client.get("/").content.decode()


def test_a_superuser_cannot_be_made_staff() -> None:
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    with pytest.raises(ValueError, match="superuser is always an admin"):
        services.do_change_user_role(root, User.Role.STAFF, actor=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.filter(id=root.id).update(role=User.Role.STAFF)
    root.refresh_from_db()
    assert root.role == User.Role.ADMIN


def test_a_staff_user_is_not_an_admin_whatever_else_it_has() -> None:
    sam = User.objects.create_user(username="sam", password=PASSWORD, is_staff=True)
    assert sam.role == User.Role.STAFF
    assert not sam.is_org_admin


def test_the_django_admin_refuses_to_make_a_superuser_staff(admin_user: User) -> None:
    User.objects.filter(id=admin_user.id).update(is_staff=True, is_superuser=True)
    root = User.objects.create_superuser(username="root", password=PASSWORD)
    client = Client()
    client.force_login(admin_user)
    page = client.get(f"/admin/accounts/user/{root.id}/change/").content.decode()
    assert "root" in page

    response = client.post(
        f"/admin/accounts/user/{root.id}/change/",
        {
            "username": "root",
            "role": "staff",
            "is_active": "on",
            "date_joined_0": "2026-11-01",
            "date_joined_1": "10:00:00",
        },
    )

    assert response.status_code == 200
    assert "A superuser is always an admin." in response.content.decode()
    root.refresh_from_db()
    assert root.role == User.Role.ADMIN
