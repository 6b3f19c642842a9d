from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from audit.models import NumberSearch


@admin.register(NumberSearch)
class NumberSearchAdmin(admin.ModelAdmin):
    """Evidence: listed and searchable, never edited."""

    list_display = ("searched_at", "user", "number", "via", "allowed")
    list_filter = ("allowed", "via")
    search_fields = ("=user__username", "=number")
    date_hierarchy = "searched_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
