from __future__ import annotations

from django.urls import path

from dashboard import views

app_name = "dashboard"
urlpatterns = [
    path("", views.overview, name="overview"),
    path("feed/", views.live_feed, name="feed"),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/export.csv", views.sessions_csv, name="sessions_csv"),
    path("sessions/<str:session_id>/", views.session, name="session"),
    path("codes/", views.codes, name="codes"),
    path("kpis/", views.kpi_page, name="kpis"),
    path("troubleshooting/", views.troubleshooting, name="troubleshooting"),
    path("reference/", views.reference, name="reference"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", views.metrics, name="metrics"),
]
