"""Admin for alerts: rules and channels editable (channel URLs write-only), history read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from alerts.forms import ChannelForm, validate_rule
from alerts.models import AlertEvent, AlertRule, AlertState, Channel, Notification


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    form = ChannelForm
    list_display = ["name", "safe_url", "url_env"]
    fields = ["name", "url", "url_env"]


class StateInline(admin.TabularInline):
    model = AlertState
    extra = 0
    can_delete = False
    fields = ("key", "status", "value", "sessions", "breaches", "evaluated_at", "changed_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertRule)
class AlertRuleAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "metric", "comparison", "threshold", "window_minutes", "per"]
    list_filter = ["enabled", "metric"]
    search_fields = ["name"]
    filter_horizontal = ["channels"]
    inlines = [StateInline]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)

        class Checked(form):  # type: ignore[misc, valid-type]
            def clean(self) -> dict[str, Any]:
                return validate_rule(super().clean(), self.add_error)

        return Checked


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "rule", "key", "old_status", "new_status", "value", "sessions"]
    list_filter = ["new_status"]


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "channel", "status", "attempts", "sent_at", "error"]
    list_filter = ["status", "kind"]
