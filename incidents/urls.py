from __future__ import annotations

from django.urls import path

from incidents import bundle_views, views

app_name = "incidents"
urlpatterns = [
    path("", views.incident_list, name="list"),
    path("<int:pk>/", views.incident_detail, name="detail"),
    path("<int:pk>/bundle/", bundle_views.incident_bundle, name="bundle"),
    path("<int:pk>/<slug:action>/", views.incident_action, name="action"),
    path("bundle/session/", bundle_views.session_bundle, name="session_bundle"),
    path("bundle/sessions/", bundle_views.sessions_bundle, name="sessions_bundle"),
    path("bundle/jobs/", bundle_views.start_job, name="start_bundle_job"),
    path("bundle/jobs/<int:pk>/", bundle_views.bundle_job, name="bundle_job"),
    path("bundle/jobs/<int:pk>/download", bundle_views.bundle_job_download, name="bundle_job_download"),
]
