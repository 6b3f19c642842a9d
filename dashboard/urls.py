from __future__ import annotations

from django.urls import path, register_converter

from dashboard import views
from dashboard.links import AnyText

register_converter(AnyText, "session_id")

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("feed/", views.live_feed, name="feed"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/export.csv", views.sessions_csv, name="sessions_csv"),
    path("sessions/<session_id:session_id>/", views.session, name="session"),
    # For ids a browser would rewrite ("..", "a/../b"): see dashboard.links.session_url.
    path("session/<int:pk>/", views.session, name="session_by_pk"),
    path("codes/", views.codes, name="codes"),
    path("kpis/", views.kpi_page, name="kpis"),
    path("troubleshooting/", views.troubleshooting, name="troubleshooting"),
    path("reference/", views.reference, name="reference"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
