from django.urls import path

from accounts import views

urlpatterns = [
    path("settings/audit-log/", views.audit_log, name="audit-log"),
    path("account/password/", views.password_change, name="password-change"),
    path("account/language/", views.language, name="language"),
    path("account/two-factor/", views.two_factor_setup, name="two-factor-setup"),
    path("account/two-factor/verify/", views.two_factor_verify, name="two-factor-verify"),
]
