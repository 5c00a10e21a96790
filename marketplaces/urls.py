from django.urls import path

from marketplaces import views

urlpatterns = [
    path(
        "settings/integrations/marketplaces/",
        views.marketplace_list,
        name="marketplace-list",
    ),
    path("sales-orders/", views.sales_order_list, name="sales-order-list"),
]
