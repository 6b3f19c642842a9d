"""Rules and channels as YAML, for teams that keep configuration in git.

``manage.py alerts load FILE.yaml`` creates or updates by name (idempotent: loading the same
file twice changes nothing) and leaves rules and channels the file does not name alone.
``manage.py alerts export`` writes the same shape; channel URLs stored in the database are
secrets, so they are exported only with ``--with-secrets`` (otherwise as ``url_redacted``, which
``load`` ignores). The keys are documented in the README ("Alerts").
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from alerts.forms import AlertRuleForm
from alerts.models import AlertRule, Channel, Comparison, window_label

RULE_KEYS = {
    "name", "metric", "sip_code", "error_code", "outcome_group", "fault_side", "scope", "per", "above", "below",
    "resolve", "window", "min_sessions", "for", "repeat", "channels", "enabled",
}  # fmt: skip
SCOPE_KEYS = {"sub_account", "product", "country", "direction"}
CHANNEL_KEYS = {"name", "url", "url_env", "url_redacted"}
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd]?)\s*$")


class ProvisioningError(ValueError):
    pass


def minutes(value: Any, what: str) -> int:
    """ "5m", "1h", "24h", "1d" or a number of minutes."""
    match = _DURATION.match(str(value))
    if not match:
        raise ProvisioningError(f"{what}: {value!r} is not a duration like 5m, 1h or 24h")
    n, unit = int(match[1]), match[2] or "m"
    return n * {"m": 1, "h": 60, "d": 1440}[unit]


def load(data: Any) -> list[str]:
    """Apply a parsed file; returns one line per change. All or nothing."""
    if not isinstance(data, dict) or set(data) - {"channels", "rules"}:
        raise ProvisioningError("the file must be a mapping with 'channels' and/or 'rules'")
    for key in ("channels", "rules"):
        if not isinstance(data.get(key) or [], list):
            raise ProvisioningError(f"'{key}' must be a list")
    changes: list[str] = []
    with transaction.atomic():
        for item in data.get("channels") or []:
            changes += _load_channel(item)
        for item in data.get("rules") or []:
            changes += _load_rule(item)
    return changes


def _load_channel(item: Any) -> list[str]:
    if not isinstance(item, dict) or not item.get("name"):
        raise ProvisioningError(f"channel {item!r}: needs a name")
    if unknown := set(item) - CHANNEL_KEYS:
        raise ProvisioningError(f"channel {item['name']!r}: unknown keys {sorted(unknown)}")
    import apprise

    name = str(item["name"])
    channel = Channel.objects.filter(name=name).first()
    created = channel is None
    channel = channel or Channel(name=name)
    changed = created
    if item.get("url"):
        url = str(item["url"]).strip()
        if apprise.Apprise.instantiate(url) is None:
            raise ProvisioningError(f"channel {name!r}: Apprise does not recognise its URL")
        if channel.url != url or channel.url_env:
            channel.url, channel.url_env, changed = url, "", True
    elif item.get("url_env"):
        if channel.url_env != item["url_env"]:
            channel.url_env, channel.url_encrypted, changed = str(item["url_env"]), "", True
    elif created:
        raise ProvisioningError(f"channel {name!r}: needs url or url_env")
    if changed:
        try:  # the checks the admin's form makes: a name or variable name too long for its column
            channel.full_clean()
        except ValidationError as exc:
            errors = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())
            raise ProvisioningError(f"channel {name[:100]!r}: {errors}") from None
        channel.save()
        return [f"{'created' if created else 'updated'} channel {name}"]
    return []


def _load_rule(item: Any) -> list[str]:
    if not isinstance(item, dict) or not item.get("name"):
        raise ProvisioningError(f"rule {item!r}: needs a name")
    name = str(item["name"])
    if unknown := set(item) - RULE_KEYS:
        raise ProvisioningError(f"rule {name!r}: unknown keys {sorted(unknown)}")
    scope = item.get("scope") or {}
    if not isinstance(scope, dict) or set(scope) - SCOPE_KEYS:
        raise ProvisioningError(f"rule {name!r}: scope takes {sorted(SCOPE_KEYS)}")
    if ("above" in item) == ("below" in item):
        raise ProvisioningError(f"rule {name!r}: give exactly one of above / below")
    comparison = Comparison.ABOVE if "above" in item else Comparison.BELOW
    if not isinstance(item.get("channels") or [], list):
        raise ProvisioningError(f"rule {name!r}: channels must be a list of channel names")
    channel_names = [str(c) for c in item.get("channels") or []]
    channels = list(Channel.objects.filter(name__in=channel_names))
    if missing := set(channel_names) - {c.name for c in channels}:
        raise ProvisioningError(f"rule {name!r}: no channel named {sorted(missing)}")
    form_data = {
        "name": name,
        "enabled": "on" if item.get("enabled", True) else "",
        "metric": item.get("metric", ""),
        "outcome_group": item.get("outcome_group", ""),
        "fault_side": item.get("fault_side", ""),
        "sip_code": item.get("sip_code", ""),
        "error_code": item.get("error_code", ""),
        **{key: scope.get(key, "") for key in SCOPE_KEYS},
        "per": item.get("per", ""),
        "comparison": comparison,
        "threshold": item[comparison],
        "resolve_threshold": item.get("resolve", ""),
        "window_minutes": minutes(item.get("window", "5m"), f"rule {name!r} window"),
        "min_sessions": item.get("min_sessions", 50),
        "for_count": item.get("for", 1),
        "repeat_minutes": minutes(item["repeat"], f"rule {name!r} repeat") if item.get("repeat") else "",
        "channels": [c.pk for c in channels],
    }
    form_data = {k: ("" if v is None else v) for k, v in form_data.items()}
    existing = AlertRule.objects.filter(name=name).first()
    before = export_rule(existing) if existing else None
    form = AlertRuleForm(form_data, instance=existing)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(str(m) for m in msgs)}" for field, msgs in form.errors.items())
        raise ProvisioningError(f"rule {name!r}: {errors}")
    rule = form.save()
    after = export_rule(rule)
    if before == after:
        return []
    return [f"{'updated' if existing else 'created'} rule {name}"]


def export_rule(rule: AlertRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": rule.name, "metric": rule.metric}
    for key in ("sip_code", "error_code", "outcome_group", "fault_side"):
        if getattr(rule, key) not in (None, ""):
            out[key] = getattr(rule, key)
    if rule.scope():
        out["scope"] = rule.scope()
    if rule.per:
        out["per"] = rule.per
    out[rule.comparison] = rule.threshold
    if rule.resolve_threshold is not None:
        out["resolve"] = rule.resolve_threshold
    out["window"] = window_label(rule.window_minutes)
    out["min_sessions"] = rule.min_sessions
    out["for"] = rule.for_count
    if rule.repeat_minutes:
        out["repeat"] = window_label(rule.repeat_minutes)
    out["channels"] = sorted(c.name for c in rule.channels.all())
    if not rule.enabled:
        out["enabled"] = False
    return out


def export(*, with_secrets: bool = False) -> dict[str, Any]:
    channels = []
    for channel in Channel.objects.all():
        item: dict[str, Any] = {"name": channel.name}
        if channel.url_env:
            item["url_env"] = channel.url_env
        elif with_secrets:
            item["url"] = channel.url
        else:
            item["url_redacted"] = channel.safe_url()
        channels.append(item)
    return {"channels": channels, "rules": [export_rule(r) for r in AlertRule.objects.prefetch_related("channels")]}
