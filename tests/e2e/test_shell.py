"""The UI shell in a real browser: log in, navigate, set up the organization and warehouses."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.helpers.browser import screenshot
from warehouses.models import Organization, Warehouse


def test_it_redirects_to_login_and_back(page: Page, admin_user: object) -> None:
    page.goto("/items/")
    expect(page).to_have_url(re.compile(r"/login/\?next=/items/"))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("correct-horse-battery-staple")
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(r"/items/$"))
    expect(page.get_by_role("heading", name="Items")).to_be_visible()


def test_an_admin_sets_up_warehouses_and_the_organization(admin_page: Page) -> None:
    page = admin_page
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Warehouses").click()
    page.get_by_role("link", name="New warehouse").click()
    page.get_by_label("Name").fill("Toronto")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Warehouse “Toronto” saved.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Toronto Primary"))).to_be_visible()

    page.get_by_role("link", name="New warehouse").click()
    page.get_by_role("button", name="Save").click()  # empty name
    expect(page.get_by_text("This field is required.")).to_be_visible()
    page.get_by_label("Name").fill("Montréal")
    page.get_by_role("button", name="Save").click()
    page.get_by_role("row", name=re.compile("Montréal")).get_by_role(
        "button", name="Mark as primary"
    ).click()
    expect(page.get_by_text("“Montréal” is now the primary warehouse.")).to_be_visible()
    screenshot(page, "warehouses")

    page.locator("summary", has_text="Settings").click()
    page.get_by_role("link", name="Organization", exact=True).click()
    page.get_by_label("Multi-warehouse").check()
    page.get_by_label("Order sync preference").select_option(label="Confirmed and Fulfilled")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Organization settings saved.")).to_be_visible()
    screenshot(page, "organization-settings")

    organization = Organization.load()
    assert organization.primary_warehouse == Warehouse.objects.get(name="Montréal")
    assert organization.multi_warehouse_enabled is True
    assert organization.order_sync_preference == "confirmed_and_fulfilled"


def test_staff_see_settings_read_only(staff_page: Page) -> None:
    page = staff_page
    page.goto("/settings/organization/")
    expect(page.get_by_text("Only an admin can change these settings.")).to_be_visible()
    expect(page.get_by_role("button", name="Save")).to_have_count(0)
    page.goto("/warehouses/")
    expect(page.get_by_role("link", name="New warehouse")).to_have_count(0)


def test_it_logs_out(admin_page: Page) -> None:
    admin_page.get_by_role("button", name="Log out").click()
    expect(admin_page).to_have_url(re.compile(r"/login/$"))
