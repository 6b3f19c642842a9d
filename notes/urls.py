from __future__ import annotations

from django.urls import path

from notes import views

app_name = "notes"
urlpatterns = [
    # The session id travels in the form body, so any id 8x8 sends works, slashes included.
    path("add/", views.add_note, name="add"),
]
