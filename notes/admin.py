from __future__ import annotations

from django.contrib import admin

from notes.models import SessionNote


@admin.register(SessionNote)
class SessionNoteAdmin(admin.ModelAdmin):
    """Read-only: notes are append-only, added from the session page."""

    list_display = ("session_id", "label", "author", "ticket", "created_at")
    list_filter = ("label",)
    search_fields = ("session_id", "ticket", "text")

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
