"""The one-channel-per-seller migration stops, naming the channels, when data would break it."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("marketplaces", "0007_listing_push_version")]
AFTER = [("marketplaces", "0008_channel_identity_and_trusted_endpoints")]


def test_the_migration_lists_channels_of_one_seller_instead_of_breaking() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    apps = executor.loader.project_state(BEFORE).apps
    SalesChannel = apps.get_model("marketplaces", "SalesChannel")
    SalesChannel.objects.create(name="Shop", seller_id="A3SIMULATORCA")
    SalesChannel.objects.create(name="Shop typo", seller_id="a3simulatorca")
    SalesChannel.objects.create(name="Other", seller_id="A1OTHERSELLER")

    executor = MigrationExecutor(connection)
    with pytest.raises(RuntimeError) as refused:
        executor.migrate(AFTER)

    message = str(refused.value)
    assert "seller A3SIMULATORCA on A2EUQ1WTGCTBG2" in message
    assert "'Shop'" in message and "'Shop typo'" in message
    assert "Other" not in message
    SalesChannel.objects.filter(name="Shop typo").delete()
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # then it goes through
