"""The session filters: validated GET parameters, so a shared link reproduces the same list."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from classify.models import FaultSide, OutcomeGroup, Product
from dashboard.queries import SESSION_RANGES, SIP_CLASSES, anomaly_labels

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
    sip_code = forms.IntegerField(required=False, min_value=0, max_value=999, label="SIP code")
    sip_class = forms.ChoiceField(choices=_blank([(c, c) for c in SIP_CLASSES]), required=False, label="SIP class")
    error_code = forms.IntegerField(required=False, min_value=-99999, max_value=0, label="8x8 error")
    sub_account = forms.CharField(required=False, max_length=64, label="Sub-account")
    product = forms.ChoiceField(choices=_blank(list(Product.choices)), required=False)
    direction = forms.ChoiceField(choices=_blank([("INBOUND", "Inbound"), ("OUTBOUND", "Outbound")]), required=False)
    country = forms.CharField(required=False, max_length=8, label="Dest. country")
    number = forms.CharField(required=False, max_length=40, label="Number contains")
    anomaly = forms.ChoiceField(choices=[], required=False)
    sort = forms.ChoiceField(choices=[("newest", "Newest first"), ("oldest", "Oldest first")], required=False)

    def __init__(self, *args, full_numbers: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["anomaly"].choices = _blank(sorted(anomaly_labels().items()))
        zone = timezone.get_current_timezone_name()  # the viewer's (dashboard.timerange)
        self.fields["start"].label, self.fields["end"].label = f"From ({zone})", f"To ({zone})"
        if not full_numbers:
            # Users who see numbers masked search by whole number only (dashboard.views._session_filters).
            self.fields["number"].label = "Whole number"

    def filters(self) -> dict:
        """Cleaned values; an invalid field is dropped rather than failing the whole page."""
        self.is_valid()
        cleaned = getattr(self, "cleaned_data", {})
        return {name: value for name, value in cleaned.items() if value not in ("", None)}
