from django.urls import path

from warehouses import views

urlpatterns = [
    path("settings/organization/", views.organization_settings, name="organization-settings"),
    path("warehouses/", views.warehouse_list, name="warehouse-list"),
    path("warehouses/new/", views.warehouse_create, name="warehouse-create"),
    path("warehouses/<int:warehouse_id>/edit/", views.warehouse_edit, name="warehouse-edit"),
    path(
        "warehouses/<int:warehouse_id>/make-primary/",
        views.warehouse_make_primary,
        name="warehouse-make-primary",
    ),
    path("items/", views.item_list, name="item-list"),
    path("items/<int:item_id>/", views.item_detail, name="item-detail"),
    path("items/<int:item_id>/adjust/", views.item_adjust, name="item-adjust"),
    path(
        "items/<int:item_id>/reorder-point/",
        views.item_reorder_point,
        name="item-reorder-point",
    ),
]
