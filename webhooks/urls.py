from __future__ import annotations

from django.urls import path, re_path

from webhooks import views

app_name = "webhooks"
urlpatterns = [
    path("8x8/", views.receive, name="receive"),
    # Optional per-kind aliases (one URL per webhook type in 8x8's API); the body still decides the kind.
    re_path(r"^8x8/(?P<kind>vss|vcs|vca|vru|vnu)/$", views.receive, name="receive_kind"),
]
