"""Admin for the reference data: where reference editors change what every page explains.

Every change is written to the admin log with the old and new value of each changed field, so
an object's History page answers "who changed what, when" without a separate audit table.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from reference.models import (
    BestPractice,
    LegStatus,
    SessionStatus,
    SipClass,
    SipCode,
    TroubleshootingEntry,
    VoiceErrorCode,
)


def describe_changes(form: forms.ModelForm) -> str:
    """'Changed description: "old" → "new"; changed retry advice: "x" → "y".' for a bound, valid form."""
    parts = []
    opts = form._meta.model._meta
    for name in form.changed_data:
        try:
            label = str(opts.get_field(name).verbose_name)
        except FieldDoesNotExist:
            label = name.replace("_", " ")
        old = _display(form.initial.get(name))
        new = _display(form.cleaned_data.get(name))
        parts.append(f'changed {label}: "{old}" → "{new}"')
    if not parts:
        return ""
    message = "; ".join(parts) + "."
    return message[0].upper() + message[1:]


def _display(value: Any) -> str:
    """One readable form for initial data (pks, lists of objects) and cleaned data (objects, querysets)."""
    if value is None:
        return ""
    if isinstance(value, models.Model):
        return str(value.pk)
    if isinstance(value, QuerySet | list | tuple | set):
        items = [item.pk if isinstance(item, models.Model) else item for item in value]
        return ", ".join(str(item) for item in sorted(items, key=str))
    return str(value)


class AuditedAdmin(admin.ModelAdmin):
    """Logs field-level diffs on change and keeps the natural key fixed once a row exists."""

    key_field: str | None = None

    def construct_change_message(  # type: ignore[override]  # Django stores a str message as given
        self, request: HttpRequest, form: forms.Form, formsets: Any, add: bool = False
    ) -> str | list:
        if not add and isinstance(form, forms.ModelForm):
            diff = describe_changes(form)
            if diff:
                return diff
        return super().construct_change_message(request, form, formsets, add)

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> tuple[str, ...]:
        # Editing a primary key in the admin would silently create a second row.
        readonly = tuple(super().get_readonly_fields(request, obj))
        if obj is not None and self.key_field:
            readonly += (self.key_field,)
        return readonly


@admin.register(SipClass)
class SipClassAdmin(AuditedAdmin):
    key_field = "digit"
    list_display = ("class_label", "name", "meaning", "default_retry_advice", "default_responsibility", "code_count")
    list_display_links = ("class_label", "name")
    list_filter = ("default_retry_advice", "default_responsibility")
    search_fields = ("name", "meaning")
    ordering = ("digit",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[SipClass]:
        return super().get_queryset(request).annotate(_code_count=Count("codes"))

    @admin.display(description="class", ordering="digit")
    def class_label(self, obj: SipClass) -> str:
        return obj.label

    @admin.display(description="codes", ordering="_code_count")
    def code_count(self, obj: SipClass) -> int:
        return obj._code_count  # type: ignore[attr-defined]  # annotated by get_queryset


@admin.register(SipCode)
class SipCodeAdmin(AuditedAdmin):
    key_field = "code"
    list_display = ("code", "reason_phrase", "sip_class", "retry_advice", "responsibility", "common_cause")
    list_display_links = ("code", "reason_phrase")
    list_filter = ("sip_class", "retry_advice", "responsibility")
    list_select_related = ("sip_class",)
    # code__exact: searching "486" finds the code, and words like "busy" skip the integer lookup.
    search_fields = ("code__exact", "reason_phrase", "description", "common_cause", "explanation")
    ordering = ("code",)
    list_per_page = 100  # the whole seed fits on one page
    fieldsets = (
        (None, {"fields": ("code", "sip_class", "reason_phrase")}),
        ("From the 8x8 reference", {"fields": ("description", "common_cause")}),
        ("sipdesk guidance", {"fields": ("retry_advice", "responsibility", "explanation")}),
    )


@admin.register(SessionStatus)
class SessionStatusAdmin(AuditedAdmin):
    key_field = "code"
    list_display = ("code", "description", "products", "position")
    search_fields = ("code", "description", "products")
    ordering = ("position", "code")


@admin.register(LegStatus)
class LegStatusAdmin(AuditedAdmin):
    key_field = "code"
    list_display = ("code", "description", "session_level_only", "position")
    list_filter = ("session_level_only",)
    search_fields = ("code", "description")
    ordering = ("position", "code")


@admin.register(VoiceErrorCode)
class VoiceErrorCodeAdmin(AuditedAdmin):
    key_field = "code"
    list_display = ("code", "message", "retry_advice", "responsibility")
    list_display_links = ("code", "message")
    list_filter = ("retry_advice", "responsibility")
    search_fields = ("code__exact", "message", "guidance")
    ordering = ("-code",)


@admin.register(TroubleshootingEntry)
class TroubleshootingEntryAdmin(AuditedAdmin):
    list_display = ("issue", "codes", "action", "position")
    search_fields = ("issue", "action")
    filter_horizontal = ("sip_codes",)
    ordering = ("position", "issue")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TroubleshootingEntry]:
        return super().get_queryset(request).prefetch_related("sip_codes")

    @admin.display(description="possible SIP codes")
    def codes(self, obj: TroubleshootingEntry) -> str:
        return ", ".join(str(code.code) for code in obj.sip_codes.all())


@admin.register(BestPractice)
class BestPracticeAdmin(AuditedAdmin):
    list_display = ("topic", "text", "position")
    list_filter = ("topic",)
    search_fields = ("topic", "text")
    ordering = ("position", "id")
