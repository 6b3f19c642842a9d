from __future__ import annotations

import json

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html

from webhooks.masking import mask_payload
from webhooks.models import RawEvent, ReceiverTally


class ReadOnlyAdmin(admin.ModelAdmin):
    """Raw events and tallies are evidence: visible in the admin, never edited there."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(RawEvent)
class RawEventAdmin(ReadOnlyAdmin):
    list_display = ("id", "received_at", "event_type", "state", "session_id", "call_id", "sub_account_id",
                    "deliveries", "attempts")  # fmt: skip
    list_filter = ("event_type", "state")
    search_fields = ("=session_id", "=call_id", "=dedupe_key")
    date_hierarchy = "received_at"
    show_full_result_count = False  # COUNT(*) over millions of rows is slow
    exclude = ("body",)

    def get_readonly_fields(self, request: HttpRequest, obj: RawEvent | None = None) -> tuple[str, ...]:
        # Phone numbers are personal data: the body is masked unless the user may see numbers.
        if request.user.has_perm("classify.view_full_numbers"):
            return ("pretty_body",)
        return ("masked_body",)

    @admin.display(description="Body (as received)")
    def pretty_body(self, obj: RawEvent) -> str:
        # format_html escapes the payload: it is untrusted input.
        return format_html("<pre>{}</pre>", json.dumps(obj.body, indent=2, ensure_ascii=False))

    @admin.display(description="Body (as received, phone numbers masked)")
    def masked_body(self, obj: RawEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(mask_payload(obj.body), indent=2, ensure_ascii=False))


@admin.register(ReceiverTally)
class ReceiverTallyAdmin(ReadOnlyAdmin):
    list_display = ("minute", "outcome", "reason", "count")
    list_filter = ("outcome", "reason")
