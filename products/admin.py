"""Product rules are edited here, audited like the reference (old → new text in each object's History)."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from products.models import ProductRule, VirtualNumber
from reference.admin import AuditedAdmin


@admin.register(ProductRule)
class ProductRuleAdmin(AuditedAdmin):
    list_display = ("sub_account_id", "number", "product", "note", "updated_at")
    list_filter = ("product",)
    search_fields = ("sub_account_id", "number", "note")
    fields = ("sub_account_id", "number", "product", "note")


@admin.register(VirtualNumber)
class VirtualNumberAdmin(admin.ModelAdmin):
    """Written by the classifier from VNU webhooks; read only here."""

    list_display = ("msisdn", "sub_account_id", "operational_status", "update_status", "updated_at_8x8")
    list_filter = ("operational_status", "update_status")
    search_fields = ("msisdn", "sub_account_id", "reference_id")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: VirtualNumber | None = None) -> bool:
        return False
