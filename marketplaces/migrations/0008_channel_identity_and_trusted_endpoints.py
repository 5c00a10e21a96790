"""One channel per seller and marketplace, the seller id compared without regard to case; a
channel's SP-API and LWA endpoints validated as Amazon's hosts (no change to the tables).

Existing rows that differ only in the case of their seller id would break the new constraint:
the migration then stops and lists them, so an admin decides which channel stays (merging two
channels' orders is not something a migration should guess at).
"""

from __future__ import annotations

from typing import Any

import django.db.models.functions.text
from django.db import migrations, models

import marketplaces.endpoints
from django.db.models import Count
from django.db.models.functions import Upper


def refuse_duplicate_channels(apps: Any, schema_editor: Any) -> None:
    SalesChannel = apps.get_model("marketplaces", "SalesChannel")
    groups = (
        SalesChannel.objects.annotate(seller=Upper("seller_id"))
        .values("seller", "marketplace_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
    )
    problems = []
    for group in groups:
        channels = SalesChannel.objects.annotate(seller=Upper("seller_id")).filter(
            seller=group["seller"], marketplace_id=group["marketplace_id"]
        )
        listed = ", ".join(f"#{c.id} {c.name!r} (seller {c.seller_id!r})" for c in channels)
        problems.append(f"seller {group['seller']} on {group['marketplace_id']}: {listed}")
    if problems:
        raise RuntimeError(
            "Several sales channels are connected to the same Amazon seller and marketplace "
            "(seller ids differing only in case): " + "; ".join(problems) + ". Keep one of each: "
            "disable the others and change their seller id, or delete them if they hold no "
            "orders, then migrate again."
        )


class Migration(migrations.Migration):
    dependencies = [
        ("marketplaces", "0007_listing_push_version"),
    ]

    operations = [
        migrations.RunPython(refuse_duplicate_channels, migrations.RunPython.noop),
        migrations.RemoveConstraint(
            model_name="saleschannel",
            name="channel_seller_marketplace",
        ),
        migrations.AddConstraint(
            model_name="saleschannel",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("seller_id"),
                models.F("marketplace_id"),
                name="channel_seller_marketplace_ci",
            ),
        ),
        migrations.AlterField(
            model_name="saleschannel",
            name="lwa_endpoint",
            field=models.URLField(
                default="https://api.amazon.com",
                validators=[marketplaces.endpoints.validate_lwa_endpoint],
                verbose_name="LWA endpoint",
            ),
        ),
        migrations.AlterField(
            model_name="saleschannel",
            name="spapi_endpoint",
            field=models.URLField(
                default="https://sellingpartnerapi-na.amazon.com",
                help_text="Amazon's, or the simulator's.",
                validators=[marketplaces.endpoints.validate_spapi_endpoint],
                verbose_name="SP-API endpoint",
            ),
        ),
    ]
