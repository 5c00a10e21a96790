"""What a user sees for an address or a filter that cannot be read."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.helpers.browser import screenshot


def test_a_page_number_no_page_has_says_which_parameter(admin_page: Page) -> None:
    admin_page.goto("/items/?page=99999999999999999999")
    expect(admin_page.get_by_role("alert")).to_have_text(
        "“page” must be a whole number from 1 to 100000."
    )
    screenshot(admin_page, "bad-request")
    admin_page.get_by_role("link", name="Open the page without its parameters").click()
    expect(admin_page.get_by_role("heading", level=1)).to_have_text("Items")


def test_an_audit_filter_out_of_range_shows_its_error(admin_page: Page) -> None:
    admin_page.goto("/settings/audit-log/?user=9223372036854775808")
    expect(admin_page.get_by_role("alert")).to_contain_text("User: Ensure this value")
    screenshot(admin_page, "audit-log-filter-error")
