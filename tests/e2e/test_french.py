"""The interface in Canadian French, in a real browser: the browser asks for French, the user
picks a language from the menu, and long French labels keep the layout (at 390 px too)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from playwright.sync_api import Browser, Page, expect

from accounts.models import User
from tests.e2e.test_home import a_busy_morning
from tests.helpers.browser import log_in, screenshot


@pytest.fixture
def french_page(browser: Browser, live_server: object, staff_user: User) -> Iterator[Page]:
    """A browser that asks for French (Accept-Language fr-CA), logged in as staff."""
    context = browser.new_context(
        base_url=str(live_server), viewport={"width": 1280, "height": 900}, locale="fr-CA"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    log_in(page, staff_user)
    yield page
    context.close()


def test_a_browser_that_asks_for_french_gets_the_home_page_in_french(french_page: Page) -> None:
    page = french_page
    a_busy_morning()
    cache.clear()  # the login landed on the home page: its charts are kept for a minute
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "fr-ca")
    attention = page.locator("#attention")
    expect(page.get_by_role("heading", name="Ce qui demande votre attention")).to_be_visible()
    expect(attention).to_contain_text("1 commande en retard d'expédition")
    expect(attention).to_contain_text("1 demande d'annulation d'acheteur")
    expect(attention).to_contain_text("1 retour livré, à réceptionner en stock")
    expect(attention).to_contain_text("1 UGS dont la quantité chez Amazon a dérivé")
    expect(page.locator("figure.chart")).to_contain_text("Amazon.ca : 3 commandes, 69,00 CAD")
    expect(page.get_by_role("link", name="Commandes client")).to_be_visible()
    screenshot(page, "home-fr")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width  # the long French entries wrap
    screenshot(page, "home-fr-390")

    page.get_by_role("link", name="1 commande en retard d'expédition").click()
    expect(page).to_have_url("/sales-orders/?ship=late")


def test_the_user_picks_english_over_a_french_browser(french_page: Page) -> None:
    page = french_page
    page.goto("/")
    page.locator("details.menu summary").click()
    page.get_by_label("Langue").select_option("en-ca")
    page.get_by_role("button", name="Appliquer").click()
    expect(page.get_by_role("heading", name="What needs attention")).to_be_visible()
    page.goto("/")
    expect(page.locator("html")).to_have_attribute("lang", "en-ca")


def test_the_warehouses_and_organization_pages_in_french(
    browser: Browser, live_server: object, admin_user: User
) -> None:
    context = browser.new_context(
        base_url=str(live_server), viewport={"width": 390, "height": 844}, locale="fr-CA"
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        log_in(page, admin_user)
        page.goto("/warehouses/")
        expect(page.get_by_role("heading", name="Entrepôts")).to_be_visible()
        expect(page.get_by_role("link", name="Nouvel entrepôt")).to_be_visible()
        page.goto("/settings/organization/")
        expect(page.get_by_role("heading", name="Paramètres de l'organisation")).to_be_visible()
        expect(page.get_by_label("Préférence de synchronisation des commandes")).to_be_visible()
        page.get_by_label("Devise de base").fill("C4D")
        page.get_by_role("button", name="Enregistrer").click()
        expect(page.get_by_text("Entrez un code ISO 4217 de trois lettres")).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        screenshot(page, "organization-settings-fr-390")
    finally:
        context.close()
