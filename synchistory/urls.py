from django.urls import path

from synchistory import views

urlpatterns = [
    path(
        "settings/integrations/marketplaces/<int:channel_id>/history/",
        views.sync_history,
        name="sync-history",
    ),
    path("sync-runs/<int:run_id>/", views.sync_run_detail, name="sync-run-detail"),
    path("sync-runs/<int:run_id>/progress/", views.sync_run_progress, name="sync-run-progress"),
]
