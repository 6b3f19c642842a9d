from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("webhooks/", include("webhooks.urls")),
    path("products/", include("products.urls")),
    path("alerts/", include("alerts.urls")),
    path("incidents/", include("incidents.urls")),
    path("notes/", include("notes.urls")),
    path("", include("dashboard.urls")),
]
