"""The session filters: validated GET parameters, so a shared link reproduces the same list."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from classify import rules
from classify.models import FaultSide, OutcomeGroup, Product
from dashboard import filters as read
from dashboard.reads.sessions import SESSION_RANGES, SIP_CLASSES
from notes.models import NoteLabel

STATUSES = [
    "IN_PROGRESS", "COMPLETED", "NO_ANSWER", "BUSY", "CANCELED", "FAILED", "ERROR",
    "COMPLETED_UNSUBSCRIBED", "COMPLETED_UNSUB_ERROR", "UNSUBSCRIBED_CONTACT",
]  # fmt: skip
RANGE_LABELS = {
    "15m": "Last 15 min",
    "1h": "Last hour",
    "24h": "Last 24 h",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "all": "All time",
}


def _blank(choices: list[tuple[str, str]], label: str = "Any") -> list[tuple[str, str]]:
    return [("", label), *choices]


class SessionFilterForm(forms.Form):
    range = forms.ChoiceField(choices=[(k, RANGE_LABELS[k]) for k in SESSION_RANGES], required=False)
    # Entered in the viewer's time zone (dashboard.timerange.ViewerTimezoneMiddleware).
    start = forms.DateTimeField(required=False, label="From")
    end = forms.DateTimeField(required=False, label="To")
    status = forms.ChoiceField(choices=_blank([(s, s) for s in STATUSES]), required=False)
    outcome = forms.ChoiceField(choices=_blank(list(OutcomeGroup.choices)), required=False)
    fault_side = forms.ChoiceField(choices=_blank(list(FaultSide.choices)), required=False, label="Fault side")
    sip_code = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=999,
        label="SIP code",
        error_messages={
            "invalid": "A SIP code is three digits, such as 486.",
            "min_value": "A SIP code is three digits, such as 486.",
            "max_value": "A SIP code is three digits, such as 486.",
        },
    )
    sip_class = forms.ChoiceField(choices=_blank([(c, c) for c in SIP_CLASSES]), required=False, label="SIP class")
    # Typed without its minus (2004) it is read as -2004: read.error_code.
    error_code = forms.IntegerField(
        required=False,
        min_value=-99999,
        max_value=99999,
        label="8x8 error",
        error_messages={"invalid": "An 8x8 error code is a number, such as -2004."},
    )
    sub_account = forms.CharField(required=False, max_length=64, label="Sub-account")
    product = forms.ChoiceField(choices=_blank(list(Product.choices)), required=False)
    direction = forms.ChoiceField(choices=_blank([("INBOUND", "Inbound"), ("OUTBOUND", "Outbound")]), required=False)
    country = forms.CharField(required=False, max_length=60, label="Dest. country")
    number = forms.CharField(required=False, max_length=40, label="Number contains")
    anomaly = forms.ChoiceField(choices=[], required=False)
    # Support notes (notes app): any note, or a note with this label.
    note = forms.ChoiceField(choices=_blank([("any", "Has a note"), *NoteLabel.choices]), required=False)
    sort = forms.ChoiceField(choices=[("newest", "Newest first"), ("oldest", "Oldest first")], required=False)

    def __init__(self, *args, full_numbers: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["anomaly"]).choices = _blank(sorted(rules.ANOMALY_LABELS.items()))
        self.fields["sub_account"].widget.attrs["list"] = "sub-account-suggestions"
        for name, field in self.fields.items():  # the error or note beside each field (sessions.html)
            field.widget.attrs["aria-describedby"] = f"id_{name}-msg"
        zone = timezone.get_current_timezone_name()  # the viewer's (dashboard.timerange)
        self.fields["start"].label, self.fields["end"].label = f"From ({zone})", f"To ({zone})"
        if not full_numbers:
            # Users who see numbers masked search by whole number only (dashboard.views._session_filters).
            self.fields["number"].label = "Whole number"
        # How a value was read when it differs from what was typed ("read as -2004"), per field.
        self.notes: dict[str, str] = {}

    def clean_error_code(self) -> int | None:
        value = self.cleaned_data.get("error_code")
        if value is None:
            return None
        meant = read.error_code(value)
        if meant != value:
            self.notes["error_code"] = f"read as {meant}"
        return meant

    def clean_country(self) -> str:
        typed = self.cleaned_data.get("country", "")
        code = read.country_code(typed)
        if code and code != typed.strip():
            self.notes["country"] = f"read as {code}"
        return code

    def clean_sub_account(self) -> str:
        value = self.cleaned_data.get("sub_account", "").strip()
        if not read.encodable(value):
            raise ValidationError("This is not text a sub-account can have.", code="unencodable")
        return value

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start >= end:
            self.add_error("end", ValidationError("“To” must be after “From”.", code="end_before_start"))
        return cleaned

    def filters(self) -> dict:
        """Cleaned values, once every field is valid; {} with form.errors set otherwise.

        A bad value is never dropped quietly (the list would look filtered while it is not): the
        page shows the errors beside the fields and no list until they are fixed."""
        if not self.is_valid():
            return {}
        return {name: value for name, value in self.cleaned_data.items() if value not in ("", None)}
