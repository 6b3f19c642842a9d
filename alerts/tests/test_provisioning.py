"""manage.py alerts load / export: the issue's file, idempotent by name, round trip, errors."""

from __future__ import annotations

from io import StringIO

import pytest
import yaml
from django.core.management import CommandError, call_command

from alerts.models import AlertRule, Channel

pytestmark = pytest.mark.django_db

FILE = """
channels:
  - name: support-slack
    url: slack://T000/B000/XXXX          # any Apprise URL; json://host/path posts JSON
  - name: pager
    url_env: SIPDESK_TEST_PAGER_URL
rules:
  - name: 503 spike acme
    metric: sip_code_share
    sip_code: 503
    scope: {sub_account: acme_sg}
    per: sub_account
    above: 0.05
    window: 5m
    min_sessions: 20
    for: 1
    channels: [support-slack]
  - name: acme quiet
    metric: volume
    scope: {sub_account: acme_sg, country: sg}
    below: 1
    window: 1h
    resolve: 5
    repeat: 2h
    channels: [support-slack, pager]
"""


def run(*args: str) -> str:
    out = StringIO()
    call_command("alerts", *args, stdout=out)
    return out.getvalue()


def test_load_creates_then_changes_nothing_the_second_time(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(FILE)
    first = run("load", str(path))
    assert "created rule 503 spike acme" in first
    assert "4 changes" in first
    assert run("load", str(path)).strip() == "0 changes"

    spike = AlertRule.objects.get(name="503 spike acme")
    assert (spike.metric, spike.sip_code, spike.sub_account, spike.per) == (
        "sip_code_share",
        503,
        "acme_sg",
        "sub_account",
    )
    assert (spike.threshold, spike.window_minutes, spike.min_sessions, spike.for_count) == (0.05, 5, 20, 1)
    quiet = AlertRule.objects.get(name="acme quiet")
    assert (quiet.comparison, quiet.window_minutes, quiet.resolve_threshold, quiet.repeat_minutes) == (
        "below",
        60,
        5,
        120,
    )
    assert sorted(quiet.channels.values_list("name", flat=True)) == ["pager", "support-slack"]
    assert Channel.objects.get(name="support-slack").url == "slack://T000/B000/XXXX"
    assert "XXXX" not in Channel.objects.get(name="support-slack").url_encrypted

    path.write_text(FILE.replace("above: 0.05", "above: 0.08"))
    assert "updated rule 503 spike acme" in run("load", str(path))
    assert AlertRule.objects.get(name="503 spike acme").threshold == 0.08


def test_export_loads_back_unchanged(tmp_path):
    path = tmp_path / "alerts.yaml"
    path.write_text(FILE)
    run("load", str(path))
    exported = run("export", "--with-secrets")
    assert yaml.safe_load(exported)["rules"][0]["name"] == "503 spike acme"
    path.write_text(exported)
    assert run("load", str(path)).strip() == "0 changes"
    redacted = run("export")
    assert "XXXX" not in redacted
    path.write_text(redacted)
    assert run("load", str(path)).strip() == "0 changes"
    assert Channel.objects.get(name="support-slack").url == "slack://T000/B000/XXXX"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: x, metric: failure_share, above: 0.1, below: 0.2}]", "exactly one of above / below"),
        ("rules: [{name: x, metric: sip_code_share, above: 0.1}]", "one SIP code"),
        ("rules: [{name: x, metric: failure_share, above: 0.1, window: 2m}]", "window_minutes"),
        ("rules: [{name: x, metric: failure_share, above: 0.1, window: soon}]", "not a duration"),
        ("rules: [{name: x, metric: nope, above: 0.1}]", "metric"),
        ("rules: [{name: x, metric: volume, below: 1, channels: [ghost]}]", "no channel named"),
        ("rules: [{name: x, metric: volume, below: 1, colour: red}]", "unknown keys"),
        ("channels: [{name: c, url: 'not a url'}]", "does not recognise"),
        ("just text", "must be a mapping"),
        ("rules: [{name: ok, metric: volume, below: 1}, {name: bad, metric: volume}]", "exactly one"),
        # Shapes and values YAML itself accepts: a number where a list goes, an impossible date.
        ("rules: 5", "'rules' must be a list"),
        ("channels: {name: c}", "'channels' must be a list"),
        ("rules: [{name: x, metric: volume, below: 1, channels: 5}]", "channels must be a list"),
        ("rules: [{name: x, metric: volume, below: 2026-13-45}]", "cannot read"),
        (f"channels: [{{name: {'c' * 101}, url: 'json://localhost/x'}}]", "at most 100 characters"),
        (f"channels: [{{name: c, url_env: {'E' * 101}}}]", "at most 100 characters"),
    ],
)
def test_a_bad_file_changes_nothing_and_says_why(tmp_path, text, message):
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(CommandError, match=message):
        run("load", str(path))
    assert not AlertRule.objects.exists()
