"""The French interface: the check of ``make test`` (scripts/check_translations.py) catches
what is not marked, and each request speaks the user's, the browser's or the organization's
language."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.test import Client

from accounts.models import User
from warehouses.models import Organization

ROOT = Path(__file__).resolve().parents[2]


def checker() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_translations", ROOT / "scripts" / "check_translations.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_translations"] = module
    spec.loader.exec_module(module)
    return module


def test_text_a_user_reads_in_a_template_must_be_marked(tmp_path: Path) -> None:
    template = tmp_path / "page.html"
    template.write_text(
        "{% load i18n %}<h1>Sales Orders</h1>\n"
        '<a title="Open it" href="/x/?a=1&amp;b=2">{% translate "Open" %}</a>\n'
        '<figure aria-label="{% translate "QR code" %}"></figure>\n'
        "<p>{% blocktranslate %}Seen {{ n }} times{% endblocktranslate %} · 42 — {{ value }}</p>\n"
        "<script>const label = 'not for people';</script><!-- a note -->\n"
        "<span>inventory-sync</span>",
        encoding="utf-8",
    )

    problems = checker().template_problems(template)

    assert problems == [
        f"{template}:1: not marked: 'Sales Orders'",
        f"{template}:1: not marked: 'Open it'",
    ]


def test_a_message_or_label_in_python_must_be_marked(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text(
        "from django.utils.translation import gettext as _\n"
        "messages.success(request, 'Saved.')\n"
        "messages.error(request, _('Refused.'))\n"
        "raise ValidationError(f'Bad {x}')\n"
        "field = forms.CharField(label='Name', help_text=_('Your name'))\n"
        "logger.info('Not for people')\n",
        encoding="utf-8",
    )

    problems = checker().python_problems(module)

    assert problems == [
        f"{module}:2: not marked: 'Saved.'",
        f"{module}:4: not marked: f'Bad {{x}}'",
        f"{module}:5: not marked: 'Name'",
    ]


@pytest.mark.django_db
def test_the_browser_chooses_until_the_user_does(admin_client: Client, admin_user: User) -> None:
    french = admin_client.get("/", HTTP_ACCEPT_LANGUAGE="fr-FR,fr;q=0.9,en;q=0.5")
    english = admin_client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    admin_client.post("/account/language/", {"language": "fr-ca", "next": "/"})
    chosen = admin_client.get("/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")

    assert french["Content-Language"] == "fr-ca"
    assert "Ce qui demande votre attention" in french.content.decode()
    assert '<html lang="fr-ca">' in french.content.decode()
    assert "What needs attention" in english.content.decode()
    assert "Accept-Language" in english["Vary"]
    admin_user.refresh_from_db()
    assert admin_user.language == "fr-ca"
    assert "Ce qui demande votre attention" in chosen.content.decode()


@pytest.mark.django_db
def test_the_organization_speaks_for_a_browser_that_asks_for_neither(
    admin_client: Client,
) -> None:
    Organization.objects.update_or_create(id=1, defaults={"language": "fr-ca"})

    page = admin_client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9")

    assert "Ce qui demande votre attention" in page.content.decode()


@pytest.mark.django_db
def test_a_language_the_product_does_not_speak_is_refused(
    admin_client: Client, admin_user: User
) -> None:
    response = admin_client.post("/account/language/", {"language": "de", "next": "/"}, follow=True)

    admin_user.refresh_from_db()
    assert admin_user.language == ""
    assert "That language is not one the product speaks." in response.content.decode()


def test_numbers_are_written_the_french_way() -> None:
    from decimal import Decimal

    from django.template import Context, Template
    from django.utils import translation

    template = Template("{{ amount|floatformat:2 }}")
    with translation.override("fr-ca"):
        french = template.render(Context({"amount": Decimal("1234.5")}))
    with translation.override("en-ca"):
        english = template.render(Context({"amount": Decimal("1234.5")}))

    assert (french, english) == ("1234,50", "1234.50")
