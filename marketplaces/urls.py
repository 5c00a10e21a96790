from django.urls import path

from marketplaces import views

CHANNEL = "settings/integrations/marketplaces/<int:channel_id>/"

urlpatterns = [
    path(
        "settings/integrations/marketplaces/",
        views.marketplace_list,
        name="marketplace-list",
    ),
    path("settings/integrations/amazon/connect/", views.amazon_connect, name="amazon-connect"),
    path(
        "settings/integrations/amazon/authorize/", views.amazon_authorize, name="amazon-authorize"
    ),
    path(
        "settings/integrations/amazon/<int:channel_id>/reauthorize/",
        views.amazon_reauthorize,
        name="amazon-reauthorize",
    ),
    path("settings/exchange-rates/", views.exchange_rates, name="exchange-rates"),
    path("integrations/amazon/callback/", views.amazon_callback, name="amazon-callback"),
    path(CHANNEL, views.channel_detail, name="channel-detail"),
    path(CHANNEL + "interval/", views.channel_interval, name="channel-interval"),
    path(CHANNEL + "modules/", views.channel_modules, name="channel-modules"),
    path(CHANNEL + "limits/", views.channel_limits, name="channel-limits"),
    path(
        CHANNEL + "order-preference/",
        views.channel_order_preference,
        name="channel-order-preference",
    ),
    path(CHANNEL + "warehouse/", views.channel_warehouse, name="channel-warehouse"),
    path(CHANNEL + "disable/", views.channel_disable, name="channel-disable"),
    path(CHANNEL + "enable/", views.channel_enable, name="channel-enable"),
    path(CHANNEL + "drift/check/", views.channel_drift_check, name="channel-drift-check"),
    path(CHANNEL + "drift/repush/", views.channel_drift_repush, name="channel-drift-repush"),
    path(CHANNEL + "fba/refresh/", views.channel_fba_refresh, name="channel-fba-refresh"),
    path(CHANNEL + "notifications/", views.channel_notifications, name="channel-notifications"),
    path(CHANNEL + "marketplaces/", views.channel_marketplaces, name="channel-marketplaces"),
    path(CHANNEL + "sync/", views.channel_sync, name="channel-sync"),
    path(
        CHANNEL + "history/notifications/",
        views.channel_notification_history,
        name="channel-notification-history",
    ),
    path(CHANNEL + "sync/estimate/", views.channel_sync_estimate, name="channel-sync-estimate"),
    path(
        "sync-runs/<int:run_id>/reinitiate/",
        views.sync_run_reinitiate,
        name="sync-run-reinitiate",
    ),
    path("sales-orders/", views.sales_order_list, name="sales-order-list"),
    path("sales-orders/<int:order_id>/", views.sales_order_detail, name="sales-order-detail"),
    path("sales-orders/<int:order_id>/ship/", views.sales_order_ship, name="sales-order-ship"),
    path(
        "sales-orders/<int:order_id>/cancel/", views.sales_order_cancel, name="sales-order-cancel"
    ),
    path("sales-returns/", views.sales_return_list, name="sales-return-list"),
    path(
        "sales-returns/<int:return_id>/receive/",
        views.sales_return_receive,
        name="sales-return-receive",
    ),
    path("shipments/<int:shipment_id>/retry/", views.shipment_retry, name="shipment-retry"),
    path("items/<int:item_id>/confirm/", views.item_confirm, name="item-confirm"),
    path("items/<int:item_id>/link/", views.item_link, name="item-link"),
]
