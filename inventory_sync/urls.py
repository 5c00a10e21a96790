from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from accounts.forms import LoginForm
from inventory_sync import views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz/", views.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(authentication_form=LoginForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("warehouses.urls")),
    path("", include("marketplaces.urls")),
    path("", include("synchistory.urls")),
    path("", include("accounts.urls")),
    path("admin/", admin.site.urls),
]

# A malformed query string (a page number no page has) is a 400 that says which parameter.
handler400 = "inventory_sync.views.bad_request"
