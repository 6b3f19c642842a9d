"""Evaluation over rollups: minimum volume, hysteresis, per-value states, quiet traffic, backlog,
resolve and repeat messages."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.evaluate import Reading, decide, evaluate_all
from alerts.models import AlertEvent, AlertRule, AlertState, Notification, Status
from webhooks.models import RawEvent

from .helpers import NOW, channel, roll, rule

pytestmark = pytest.mark.django_db


def state(r, key: str = "") -> AlertState:
    return AlertState.objects.get(rule=r, key=key)


def test_a_rate_rule_under_min_sessions_shows_not_enough_traffic_and_never_fires():
    r = rule(min_sessions=50, channels=[channel()])
    roll(10, "failed")  # 100 % failures, but only 10 sessions
    evaluate_all(now=NOW)
    assert state(r).status == Status.LOW_VOLUME
    assert state(r).value is None
    assert state(r).sessions == 10
    assert not Notification.objects.exists()

    roll(45, "answered")  # 10 / 55 = 18 %: now judged
    evaluate_all(now=NOW)
    assert state(r).status == Status.FIRING
    assert state(r).value == pytest.approx(10 / 55)
    assert Notification.objects.filter(kind="fired").count() == 1


def test_no_sessions_at_all_is_no_data():
    r = rule()
    evaluate_all(now=NOW)
    assert state(r).status == Status.NO_DATA


def test_hysteresis_needs_n_breaches_to_fire_and_the_resolve_threshold_to_resolve():
    hook = channel()
    r = rule(threshold=0.10, resolve_threshold=0.05, for_count=2, min_sessions=20, channels=[hook])
    roll(80, "answered", minutes_ago=1)
    roll(20, "failed", minutes_ago=1)  # 20 %
    evaluate_all(now=NOW)
    assert state(r).status == Status.PENDING
    assert not Notification.objects.exists()
    evaluate_all(now=NOW + timedelta(seconds=60))
    assert state(r).status == Status.FIRING
    assert Notification.objects.filter(kind="fired").count() == 1

    # Later: 7 % (under the threshold, over the resolve threshold) keeps it firing.
    later = NOW + timedelta(minutes=10)
    roll(93, "answered", now=later)
    roll(7, "failed", now=later)
    evaluate_all(now=later)
    assert state(r).status == Status.FIRING
    assert Notification.objects.count() == 1

    roll(100, "answered", now=later)  # 7 / 200 = 3.5 %: resolved
    evaluate_all(now=later)
    assert state(r).status == Status.RESOLVED
    resolved = Notification.objects.get(kind="resolved")
    assert "RESOLVED" in resolved.title
    assert "3.5%" in resolved.body
    assert "resolve threshold 5.0%" in resolved.body
    assert list(AlertEvent.objects.order_by("id").values_list("new_status", flat=True)) == [
        "pending", "firing", "resolved",
    ]  # fmt: skip


def test_per_sub_account_rules_keep_one_state_per_sub_account():
    r = rule(per="sub_account", min_sessions=20, channels=[channel()])
    roll(30, "answered", sub="acme_sg")
    roll(28, "answered", sub="ridego_sg")
    roll(12, "failed", sub="ridego_sg")
    roll(5, "failed", sub="tiny")
    evaluate_all(now=NOW)
    states = {s.key: s.status for s in AlertState.objects.filter(rule=r)}
    assert states == {"acme_sg": Status.OK, "ridego_sg": Status.FIRING, "tiny": Status.LOW_VOLUME}
    fired = Notification.objects.get()
    assert "sub_account=ridego_sg" in fired.title
    assert "sub_account=ridego_sg" in fired.body
    assert "Sessions counted: 40" in fired.body


def test_a_scoped_rule_reads_only_its_scope_and_window():
    r = rule(sub_account="acme_sg", min_sessions=10)
    roll(10, "failed", sub="other")
    roll(10, "failed", sub="acme_sg", minutes_ago=30)  # outside the 5-minute window
    roll(20, "answered", sub="acme_sg")
    evaluate_all(now=NOW)
    assert state(r).status == Status.OK
    assert state(r).value == 0
    assert state(r).sessions == 20


def test_a_quiet_sub_account_fires_a_volume_rule():
    r = rule("quiet", metric="volume", comparison="below", threshold=1, window_minutes=15, per="sub_account")
    roll(40, "answered", sub="acme_sg", minutes_ago=120, size="hour")  # seen yesterday-ish
    roll(40, "answered", sub="busy", minutes_ago=120, size="hour")
    roll(9, "answered", sub="busy", minutes_ago=2)
    evaluate_all(now=NOW)
    states = {s.key: (s.status, s.value) for s in AlertState.objects.filter(rule=r)}
    assert states == {"acme_sg": (Status.FIRING, 0.0), "busy": (Status.OK, 9.0)}

    roll(3, "answered", sub="acme_sg", now=NOW + timedelta(minutes=1))
    evaluate_all(now=NOW + timedelta(minutes=1))
    assert state(r, "acme_sg").status == Status.RESOLVED


def test_the_backlog_rule_fires_when_events_wait_too_long():
    r = rule("stuck", metric="backlog_age", threshold=300, min_sessions=0)
    event = RawEvent.objects.create(body={}, event_type="CALL_STATUS", dedupe_key="k1", state="pending")
    RawEvent.objects.filter(pk=event.pk).update(received_at=timezone.now() - timedelta(minutes=10))
    evaluate_all()
    assert state(r).status == Status.FIRING
    assert state(r).value >= 600
    RawEvent.objects.filter(pk=event.pk).update(state="processed")
    evaluate_all()
    assert state(r).status == Status.RESOLVED
    assert state(r).value == 0


def test_a_firing_alert_repeats_only_after_the_interval():
    rule(min_sessions=10, repeat_minutes=240, channels=[channel()])
    roll(10, "failed")
    roll(10, "answered")
    evaluate_all(now=NOW)
    assert Notification.objects.count() == 1
    for minutes in (1, 60, 239):
        later = NOW + timedelta(minutes=minutes)
        roll(10, "failed", now=later)
        roll(10, "answered", now=later)
        evaluate_all(now=later)
    assert Notification.objects.count() == 1
    later = NOW + timedelta(minutes=241)
    roll(10, "failed", now=later)
    roll(10, "answered", now=later)
    evaluate_all(now=later)
    repeat = Notification.objects.get(kind="repeat")
    assert "STILL FIRING" in repeat.title
    assert Notification.objects.count() == 2


def test_top_causes_and_an_absolute_link_are_in_the_message(settings):
    settings.SIPDESK_DASHBOARD_URL = "https://sipdesk.example.com"
    rule(sub_account="acme_sg", min_sessions=10, channels=[channel()])
    roll(6, "failed", sip=503)
    roll(2, "failed", sip=404)
    roll(3, "error", error=-2004)
    roll(20, "answered")
    evaluate_all(now=NOW)
    body = Notification.objects.get().body
    assert "Top causes: 503 ×6, -2004 ×3, 404 ×2" in body
    start = (NOW.replace(second=0) - timedelta(minutes=4)).strftime("%Y-%m-%d+%H%%3A%M")
    end = (NOW.replace(second=0) + timedelta(minutes=1)).strftime("%Y-%m-%d+%H%%3A%M")
    assert f"https://sipdesk.example.com/sessions/?start={start}&end={end}&sub_account=acme_sg" in body
    assert "Value: 35.5% (threshold above 5.0%)" in body
    assert "Window: 5m" in body


def test_decide_is_pure_and_a_firing_alert_with_no_traffic_stays_firing():
    r = rule(for_count=1)
    assert decide(r, Status.FIRING, 3, Reading("", None, 4, Status.LOW_VOLUME)).status == Status.FIRING
    assert decide(r, Status.OK, 0, Reading("", None, 4, Status.LOW_VOLUME)).status == Status.LOW_VOLUME
    assert decide(r, Status.OK, 0, Reading("", 0.06, 100)).fire
    assert not decide(r, Status.OK, 0, Reading("", 0.05, 100)).fire  # "above" is strict


def test_fired_and_resolved_signals_carry_the_event():
    from alerts.signals import alert_fired, alert_resolved

    seen = []

    def fired(sender, event, **kw):
        seen.append(("fired", event.rule.name, event.value))

    def resolved(sender, event, **kw):
        seen.append(("resolved", event.rule.name, event.value))

    alert_fired.connect(fired)
    alert_resolved.connect(resolved)
    try:
        rule(min_sessions=10)
        roll(5, "failed")
        roll(5, "answered")
        evaluate_all(now=NOW)
        roll(90, "answered")
        evaluate_all(now=NOW)
    finally:
        alert_fired.disconnect(fired)
        alert_resolved.disconnect(resolved)
    assert seen == [("fired", "failures", 0.5), ("resolved", "failures", 0.05)]


def test_a_rule_edited_to_per_value_drops_its_single_state():
    r = rule(min_sessions=10)
    roll(10, "failed")
    evaluate_all(now=NOW)
    assert state(r).status == Status.FIRING
    r.per = "sub_account"
    r.save()
    evaluate_all(now=NOW)
    assert list(AlertState.objects.filter(rule=r).values_list("key", "status")) == [("acme_sg", Status.FIRING)]


def test_rules_sharing_a_window_are_read_in_one_scan_but_judged_apart():
    acme = rule("acme", sub_account="acme_sg", min_sessions=10)
    other = rule("other 503", metric="sip_code_share", sip_code=503, sub_account="other", min_sessions=10)
    rates = rule(
        "answer rate", metric="answer_rate", comparison="below", threshold=0.5, per="sub_account", min_sessions=10
    )
    roll(10, "answered", sub="acme_sg")
    roll(3, "failed", sub="other", sip=503)
    roll(1, "failed", sub="other", sip=404)
    roll(16, "answered", sub="other")
    evaluate_all(now=NOW)
    assert (state(acme).status, state(acme).value) == (Status.OK, 0)
    assert (state(other).status, state(other).value) == (Status.FIRING, 0.15)
    assert {s.key: s.value for s in AlertState.objects.filter(rule=rates)} == {"acme_sg": 1.0, "other": 0.8}


def test_the_sparkline_keeps_the_values_that_changed():
    r = rule(min_sessions=10)
    roll(10, "answered")
    evaluate_all(now=NOW)
    evaluate_all(now=NOW)  # same value: nothing written
    roll(10, "failed")
    evaluate_all(now=NOW)
    assert state(r).recent == [0.0, 0.5]
    assert AlertRule.objects.get(pk=r.pk).evaluated_at == NOW


def test_a_per_value_key_without_traffic_is_forgotten_unless_it_is_firing():
    r = rule(per="sub_account", min_sessions=10)
    roll(10, "answered", sub="calm")
    roll(10, "failed", sub="burning")
    evaluate_all(now=NOW)
    assert {s.key: s.status for s in AlertState.objects.filter(rule=r)} == {"calm": "ok", "burning": "firing"}
    later = NOW + timedelta(minutes=30)  # both quiet now
    evaluate_all(now=later)
    assert {s.key: s.status for s in AlertState.objects.filter(rule=r)} == {"burning": "firing"}


def test_per_country_states_within_a_sub_account_scope():
    r = rule(per="country", sub_account="acme_sg", min_sessions=10)
    roll(10, "failed", country="IN")
    roll(10, "answered", country="SG")
    roll(10, "failed", country="SG", sub="other")  # another sub-account: out of scope
    evaluate_all(now=NOW)
    assert {s.key: (s.status, s.value) for s in AlertState.objects.filter(rule=r)} == {
        "IN": (Status.FIRING, 1.0),
        "SG": (Status.OK, 0.0),
    }


def test_the_unhealthy_numbers_rule_fires_per_sub_account_from_the_latest_vnu_status():
    from products.models import VirtualNumber

    hook = channel()
    r = rule("numbers", metric="unhealthy_numbers", per="sub_account", threshold=0, min_sessions=0, channels=[hook])
    VirtualNumber.objects.create(sub_account_id="acme_sg", msisdn="+6560000001", operational_status="Healthy")
    sick = VirtualNumber.objects.create(sub_account_id="acme_sg", msisdn="+6560000002", operational_status="Unhealthy")
    VirtualNumber.objects.create(sub_account_id="beta_ph", msisdn="+6320000001", operational_status="Healthy")
    evaluate_all(now=NOW)
    assert state(r, "acme_sg").status == Status.FIRING
    assert (state(r, "acme_sg").value, state(r, "acme_sg").sessions) == (1, 2)
    assert state(r, "beta_ph").status == Status.OK
    fired = Notification.objects.get(kind="fired")
    assert "Unhealthy virtual numbers" in fired.body
    assert "/products/" in fired.body
    assert "Sessions counted" not in fired.body

    sick.operational_status = "Healthy"
    sick.save()
    evaluate_all(now=NOW + timedelta(minutes=1))
    assert state(r, "acme_sg").status == Status.RESOLVED


def test_an_unhealthy_numbers_rule_without_numbers_is_no_data():
    r = rule("numbers", metric="unhealthy_numbers", threshold=0, min_sessions=0)
    evaluate_all(now=NOW)
    assert state(r).status == Status.NO_DATA
