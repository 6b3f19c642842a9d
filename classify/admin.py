"""Read-only admin for what the pipeline derives: it is rebuilt from raw events, never edited."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from classify.models import CallLeg, EventClassification, Session


class ReadOnlyMixin:
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class CallLegInline(ReadOnlyMixin, admin.TabularInline):
    model = CallLeg
    extra = 0
    fields = ("leg_key", "call_id", "direction", "destination_country", "status", "final_status", "final_sip_code")
    readonly_fields = fields
    show_change_link = False


@admin.register(Session)
class SessionAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["session_id", "start_time", "product", "status", "primary_cause", "sub_account_id"]
    list_filter = ["status", "outcome_group", "product", "summary_received"]
    search_fields = ["session_id", "sub_account_id", "client_request_id"]
    date_hierarchy = "start_time"
    show_full_result_count = False  # counting a million sessions on every page is slow
    inlines = [CallLegInline]

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]


@admin.register(EventClassification)
class EventClassificationAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["event", "event_time", "call_status", "sip_code", "sip_class", "is_final", "outcome_group"]
    list_filter = ["sip_class", "is_final", "outcome_group"]
    raw_id_fields = ["event", "session", "call_leg"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return [f.name for f in self.model._meta.fields]
