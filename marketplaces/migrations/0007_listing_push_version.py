"""Listing versions become a counter (issue: SQLite stored Now() and a Python datetime as
different strings, so accepted pushes never cleared pending there)."""

from django.db import migrations, models
from django.db.models import F


def keep_in_flight_listings_pending(apps, schema_editor):
    # Lines taken before this migration hold version 0: moving pending listings to 1 means an
    # in-flight push cannot clear them, so they are sent once more with today's quantity.
    Listing = apps.get_model("marketplaces", "Listing")
    Listing.objects.filter(push_pending=True).update(push_version=F("push_version") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplaces", "0006_api_quota_in_flight"),
    ]

    operations = [
        migrations.AddField(
            model_name="listing",
            name="push_version",
            field=models.PositiveBigIntegerField(default=0),
        ),
        # A timestamp cannot be cast to a counter: the column is replaced.
        migrations.RemoveField(model_name="stockpushline", name="listing_version"),
        migrations.AddField(
            model_name="stockpushline",
            name="listing_version",
            field=models.PositiveBigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(keep_in_flight_listings_pending, migrations.RunPython.noop),
    ]
