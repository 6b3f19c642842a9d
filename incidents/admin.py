from __future__ import annotations

from django.contrib import admin

from incidents.models import Incident, IncidentActivity


class ActivityInline(admin.TabularInline):
    model = IncidentActivity
    extra = 0
    can_delete = False
    readonly_fields = ("kind", "actor", "text", "from_state", "to_state", "created_at")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Incident)
class IncidentAdmin(admin.ModelAdmin):
    """For looking things up; changes go through the incident page so they are logged."""

    list_display = ("id", "title", "state", "sub_account_id", "sessions_count", "last_seen", "assignee")
    list_filter = ("state",)
    search_fields = ("title", "sub_account_id", "cause", "ticket")
    inlines = [ActivityInline]

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_add_permission(self, request) -> bool:
        return False
