"""Product rules: matching (pure), the command line, the admin's audit trail, scoped re-derivation."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.core.management import CommandError, call_command
from django.test import Client

from classify.models import CallLeg, Session
from products.matching import ProductRuleSet, Rule
from products.models import ProductRule
from products.rederive import sessions_covered
from webhooks.models import RawEvent


class Leg:
    def __init__(self, direction: str, source: str, destination: str) -> None:
        self.direction, self.source, self.destination = direction, source, destination


RULES = ProductRuleSet((
    Rule(1, "NUMBER_MASKING", sub_account_id="acme_nm"),
    Rule(2, "IVR", number="+6568332048"),
    Rule(3, "VOICE_MESSAGING", sub_account_id="acme_nm", number="+6531581234"),
    Rule(4, "NUMBER_MASKING", number="+6599999999"),
))  # fmt: skip


def test_the_most_specific_rule_wins_and_the_number_is_the_8x8_side_of_the_leg():
    from products.matching import virtual_numbers

    assert RULES.match("acme_nm", []).reason == "rule: sub-account acme_nm"
    # Source of an outbound leg, destination of an inbound leg: the 8x8 number.
    outbound = virtual_numbers([Leg("OUTBOUND", "+6568332048", "+94778066434")])
    assert RULES.match("acme_nm", outbound).product == "IVR"
    assert RULES.match("other", virtual_numbers([Leg("OUTBOUND", "+94778066434", "+6568332048")])) is None
    inbound = virtual_numbers([Leg("INBOUND", "+94778066434", "6568332048")])  # legacy: no "+"
    assert RULES.match("other", inbound).reason == "rule: number +6568332048"
    both = virtual_numbers([Leg("OUTBOUND", "+6531581234", "+1")])
    assert RULES.match("acme_nm", both).reason == "rule: sub-account acme_nm and number +6531581234"
    assert RULES.match("someone_else", both) is None


def test_rules_that_disagree_give_unknown_and_say_so():
    legs = [Leg("OUTBOUND", "+6568332048", "+1"), Leg("INBOUND", "+2", "+6599999999")]
    from products.matching import virtual_numbers

    verdict = RULES.match("x", virtual_numbers(legs))
    assert verdict.product == ""
    assert verdict.reason == (
        "product rules disagree (number +6568332048 says IVR, number +6599999999 says Number Masking)"
    )


@pytest.mark.django_db
def test_the_command_adds_lists_replaces_and_removes_rules_and_logs_each_change(superuser):
    out = StringIO()
    call_command("product_rule", "add", "--sub-account", "acme_nm", "--product", "number_masking", stdout=out)
    call_command("product_rule", "add", "--number", "+6568332048", "--product", "ivr", "--note", "support line")
    call_command("product_rule", "add", "--sub-account", "acme_nm", "--product", "voice_messaging")
    listing = StringIO()
    call_command("product_rule", "list", stdout=listing)
    assert "acme_nm" in listing.getvalue()
    assert "+6568332048" in listing.getvalue()
    assert "support line" in listing.getvalue()
    assert dict(ProductRule.objects.values_list("sub_account_id", "product")) == {
        "acme_nm": "VOICE_MESSAGING", "": "IVR",
    }  # fmt: skip
    call_command("product_rule", "remove", "--number", "+6568332048")
    assert ProductRule.objects.count() == 1
    messages = list(LogEntry.objects.order_by("id").values_list("action_flag", "change_message"))
    assert [flag for flag, _ in messages] == [1, 1, 2, 3]
    assert messages[2][1] == 'Changed product: "NUMBER_MASKING" → "VOICE_MESSAGING" (command line).'


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "--number", "6568332048", "--product", "ivr"], "not an E.164 number"),
        (["add", "--product", "ivr"], "Give a sub-account, a virtual number, or both"),
        (["remove", "--sub-account", "nobody"], "no such rule"),
        (["remove"], "say which rule"),
    ],
)
def test_the_command_refuses_bad_rules_plainly(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("product_rule", *args)
    assert ProductRule.objects.count() == 0


@pytest.mark.django_db
def test_an_admin_edit_is_logged_with_old_and_new_values(superuser):
    rule = ProductRule.objects.create(sub_account_id="acme_nm", product="NUMBER_MASKING")
    client = Client()
    client.force_login(superuser)
    response = client.post(
        f"/admin/products/productrule/{rule.pk}/change/",
        {"sub_account_id": "acme_nm", "number": "", "product": "IVR", "note": ""},
    )
    assert response.status_code == 302
    entry = LogEntry.objects.get(object_id=str(rule.pk))
    assert entry.change_message == 'Changed product: "NUMBER_MASKING" → "IVR".'
    # The add form can be prefilled from the session page's link.
    page = client.get("/admin/products/productrule/add/", {"sub_account_id": "acme_vm"})
    assert 'value="acme_vm"' in page.content.decode()


@pytest.mark.django_db
def test_a_rule_change_sends_only_the_covered_sessions_back_to_the_classifier(
    django_capture_on_commit_callbacks, monkeypatch
):
    covered = Session.objects.create(session_id="s-sub", sub_account_id="acme_nm")
    by_number = Session.objects.create(session_id="s-num", sub_account_id="other")
    CallLeg.objects.create(session=by_number, call_id="c-1", direction="INBOUND", destination="+6568332048")
    untouched = Session.objects.create(session_id="s-no", sub_account_id="other")
    CallLeg.objects.create(session=untouched, call_id="c-2", direction="OUTBOUND", destination="+6568332048")
    for s in (covered, by_number, untouched):
        RawEvent.objects.create(
            event_type="SESSION_SUMMARY", dedupe_key=s.session_id, session_id=s.session_id, body={}, state="processed"
        )
    assert sorted(sessions_covered(["acme_nm"], ["+6568332048"])) == ["s-num", "s-sub"]

    monkeypatch.setattr("webhooks.enqueue.request_processing", lambda: None)
    with django_capture_on_commit_callbacks(execute=True):
        ProductRule.objects.create(sub_account_id="acme_nm", product="IVR")
        ProductRule.objects.create(number="+6568332048", product="IVR")
    pending = set(RawEvent.objects.filter(state="pending").values_list("session_id", flat=True))
    assert pending == {"s-sub", "s-num"}
