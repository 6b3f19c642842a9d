"""Forms for rules and channels (the pages; the admin and YAML provisioning write the same rows)."""

from __future__ import annotations

from typing import Any

from django import forms

from alerts.models import AlertRule, Channel, Metric


class AlertRuleForm(forms.ModelForm):
    class Meta:
        model = AlertRule
        fields = [
            "name", "enabled", "metric", "outcome_group", "fault_side", "sip_code", "error_code",
            "sub_account", "product", "country", "direction", "per", "comparison", "threshold",
            "resolve_threshold", "window_minutes", "min_sessions", "for_count", "repeat_minutes", "channels",
        ]  # fmt: skip
        widgets = {"channels": forms.CheckboxSelectMultiple}
        help_texts = {
            "threshold": "Shares and rates as a fraction (0.05 = 5 %); backlog age in seconds.",
            "window_minutes": "Minutes, 5 to 1440 (24 h).",
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        return validate_rule(data, self.add_error)


def validate_rule(data: dict[str, Any], add_error: Any) -> dict[str, Any]:
    """The cross-field rules shared by the form and ``manage.py alerts load``."""
    metric = data.get("metric")
    if metric in (Metric.SIP_CODE_SHARE, Metric.SIP_CODE_COUNT) and data.get("sip_code") is None:
        add_error("sip_code", "This metric watches one SIP code: give it.")
    if metric in (Metric.ERROR_CODE_SHARE, Metric.ERROR_CODE_COUNT) and data.get("error_code") is None:
        add_error("error_code", "This metric watches one 8x8 error code: give it.")
    if metric == Metric.BACKLOG_AGE and data.get("per"):
        add_error("per", "The backlog is one queue: it has no per-value states.")
    if metric == Metric.UNHEALTHY_NUMBERS and data.get("per") not in ("", None, "sub_account"):
        add_error("per", "Virtual numbers belong to sub-accounts: per sub-account or none.")
    if metric == Metric.UNHEALTHY_NUMBERS and any(data.get(k) for k in ("product", "country", "direction")):
        add_error("metric", "Unhealthy numbers can be scoped to a sub-account only.")
    return data


class ChannelForm(forms.ModelForm):
    url = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.PasswordInput(render_value=False),
        help_text="Any Apprise URL (mailto://, slack://, json://…), stored encrypted; empty keeps the current one.",
    )

    class Meta:
        model = Channel
        fields = ["name", "url_env"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        url = (data.get("url") or "").strip()
        if url:
            import apprise

            if apprise.Apprise.instantiate(url) is None:
                self.add_error("url", "Apprise does not recognise this URL.")
        elif not data.get("url_env") and not (self.instance.pk and self.instance.url_encrypted):
            self.add_error("url", "Give a URL or the name of an environment variable holding one.")
        return data

    def save(self, commit: bool = True) -> Channel:
        channel = super().save(commit=False)
        if self.cleaned_data.get("url"):
            channel.url = self.cleaned_data["url"]
        if commit:
            channel.save()
        return channel
