"""The seed migration's content, and that re-seeding never overwrites an admin's edit."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from reference.models import (
    BestPractice,
    LegStatus,
    SessionStatus,
    SipClass,
    SipCode,
    TroubleshootingEntry,
    VoiceErrorCode,
)
from reference.seed import seed_all

pytestmark = pytest.mark.django_db

EXPECTED_COUNTS = {
    SipClass: 6,
    SipCode: 75,  # the document's 51 (1xx 5, 2xx 2, 3xx 5, 4xx 28, 5xx 7, 6xx 4) + 24 from IANA
    SessionStatus: 9,  # six base values + three Voice Messaging opt-out values
    LegStatus: 6,  # five + ERROR (session level only)
    VoiceErrorCode: 32,  # -2001 … -2010, -9999 + the Callflows status codes 1, -1001 … -1020
    TroubleshootingEntry: 5,
    BestPractice: 11,  # 2 number formatting, 2 caller ID, 3 error handling, 4 codecs
}


def counts() -> dict[type[models.Model], int]:
    return {model: model._default_manager.count() for model in EXPECTED_COUNTS}


def test_migrations_seed_exactly_the_documents_rows():
    assert counts() == EXPECTED_COUNTS
    per_class = {c.digit: c.codes.count() for c in SipClass.objects.all()}
    # The document's codes plus the IANA registry's missing ones (1xx 199, 2xx 204, 4xx 18, 5xx 555/580, 6xx 607/608).
    assert per_class == {1: 6, 2: 3, 3: 5, 4: 46, 5: 9, 6: 6}
    assert TroubleshootingEntry.sip_codes.through.objects.count() == 12


def test_sip_code_text_comes_from_the_document():
    busy = SipCode.objects.lookup(486)
    assert busy.reason_phrase == "Busy Here"
    assert busy.description == "Callee's endpoint is busy (user declined or DND enabled)"
    assert busy.common_cause == "Line in use"
    assert busy.sip_class.name == "Client Error Responses"
    # "-" in the document means no common cause.
    assert SipCode.objects.get(code=402).common_cause == ""
    assert SipCode.objects.get(code=606).reason_phrase == "Not Acceptable"
    assert SipClass.objects.get(digit=6).meaning == "Indicates the call cannot be completed anywhere."
    assert SipCode.objects.lookup(499) is None
    assert SipClass.objects.for_code(499).digit == 4
    assert SipClass.objects.for_code(700) is None
    assert SipClass.objects.for_code(0) is None


def test_every_code_has_its_own_explanation():
    explanations = list(SipCode.objects.values_list("explanation", flat=True))
    assert all(len(text) > 40 for text in explanations)
    assert len(set(explanations)) == len(explanations)


@pytest.mark.parametrize(
    ("code", "retry", "responsibility"),
    [
        (100, "none", "none"),
        (200, "none", "none"),
        (404, "fix_request", "configuration"),
        (403, "fix_request", "configuration"),
        (488, "fix_request", "configuration"),
        (408, "retry_later", "carrier_or_platform"),
        (480, "retry_later", "callee"),
        (486, "retry_later", "callee"),
        (487, "retry_later", "caller"),
        (503, "retry_with_backoff", "carrier_or_platform"),
        (603, "do_not_retry", "callee"),
    ],
)
def test_sipdesk_guidance_follows_spec_section_5(code, retry, responsibility):
    row = SipCode.objects.get(code=code)
    assert (row.retry_advice, row.responsibility) == (retry, responsibility)


def test_guidance_rules_hold_for_whole_classes():
    assert set(SipCode.objects.filter(sip_class=5).values_list("retry_advice", flat=True)) == {"retry_with_backoff"}
    assert set(SipCode.objects.filter(sip_class=6).values_list("retry_advice", flat=True)) == {"do_not_retry"}
    assert set(SipCode.objects.filter(code__lt=300).values_list("retry_advice", "responsibility")) == {("none", "none")}
    fourxx = dict(SipCode.objects.filter(sip_class=4).values_list("code", "retry_advice"))
    assert {code for code, advice in fourxx.items() if advice != "fix_request"} == {408, 430, 480, 486, 487, 491}


def test_statuses_and_error_codes():
    assert list(SessionStatus.objects.values_list("code", flat=True)) == [
        "COMPLETED", "NO_ANSWER", "BUSY", "CANCELED", "FAILED", "ERROR",
        "COMPLETED_UNSUBSCRIBED", "COMPLETED_UNSUB_ERROR", "UNSUBSCRIBED_CONTACT",
    ]  # fmt: skip
    assert set(SessionStatus.objects.exclude(products="").values_list("products", flat=True)) == {"Voice Messaging"}
    assert list(LegStatus.objects.filter(session_level_only=True).values_list("code", flat=True)) == ["ERROR"]
    assert LegStatus.objects.count() == 6

    no_coverage = VoiceErrorCode.objects.get(code=-2004)
    assert no_coverage.message == "No coverage available for requested area"
    assert no_coverage.retry_advice == "do_not_retry"
    advice = dict(VoiceErrorCode.objects.values_list("code", "retry_advice"))
    assert {c for c, a in advice.items() if a == "retry_later"} >= {-2001, -2002, -2010}
    assert {c for c, a in advice.items() if a == "fix_request"} >= {-2003, -2008, -2009}
    assert VoiceErrorCode.objects.filter(code__lt=-2000).values_list("code", flat=True).first() == -2001
    assert all(VoiceErrorCode.objects.values_list("guidance", flat=True))


def test_troubleshooting_and_best_practices():
    invalid = TroubleshootingEntry.objects.get(issue="Invalid number format")
    assert sorted(invalid.sip_codes.values_list("code", flat=True)) == [404, 484]
    assert invalid.action == "Validate E.164 format, ensure country code is correct"
    network = TroubleshootingEntry.objects.get(issue="Network/routing issues")
    assert network.action == "Contact 8x8 CPaaS Support (support@cpaas.8x8.com) if persistent"
    assert sorted(network.sip_codes.values_list("code", flat=True)) == [500, 502, 503, 504]
    assert TroubleshootingEntry.objects.values_list("issue", flat=True).first() == "Call not connecting"

    topics = list(BestPractice.objects.values_list("topic", flat=True))
    assert topics.count("Codec Support") == 4
    assert topics.count("Error Handling") == 3
    assert BestPractice.objects.filter(text="G.711 µ-law (PCMU)").exists()
    assert not BestPractice.objects.filter(text__contains="Â").exists()


def test_reseeding_keeps_admin_edits_and_creates_no_duplicates():
    SipCode.objects.filter(code=486).update(description="Edited by an admin", retry_advice="do_not_retry")
    TroubleshootingEntry.objects.get(issue="Call drops during ringing").sip_codes.add(480)
    BestPractice.objects.filter(text="G.722").update(text="G.722 (wideband)")
    SipCode.objects.filter(code=100).delete()

    seed_all(apps)

    busy = SipCode.objects.get(code=486)
    assert (busy.description, busy.retry_advice) == ("Edited by an admin", "do_not_retry")
    drops = TroubleshootingEntry.objects.get(issue="Call drops during ringing")
    assert sorted(drops.sip_codes.values_list("code", flat=True)) == [480, 487]
    # A deleted seed row comes back; an edited best practice is a new row under its new key.
    assert SipCode.objects.get(code=100).reason_phrase == "Trying"
    assert BestPractice.objects.filter(text__startswith="G.722").count() == 2
    expected = {**EXPECTED_COUNTS, BestPractice: 12}
    assert counts() == expected


def test_reseeding_an_up_to_date_database_is_cheap():
    with CaptureQueriesContext(connection) as queries:
        seed_all(apps)
    assert counts() == EXPECTED_COUNTS
    assert len(queries) <= 10


def test_groups_have_exactly_their_permissions():
    editors = set(Group.objects.get(name="Reference editors").permissions.values_list("codename", flat=True))
    models = ["sipclass", "sipcode", "sessionstatus", "legstatus", "voiceerrorcode", "troubleshootingentry"]
    models.append("bestpractice")
    assert editors == {f"{action}_{m}" for m in models for action in ("add", "change", "view")}

    support = Group.objects.get(name="Support").permissions
    apps_ = {"reference", "classify", "webhooks", "incidents", "notes"}  # the last two: incidents/seed.py
    assert set(support.values_list("content_type__app_label", flat=True)) == apps_
    workflow = {"acknowledge_incident", "add_sessionnote"}  # Support notes and acknowledges (issue 15)
    assert all(c.startswith("view_") or c in workflow for c in support.values_list("codename", flat=True))
    assert not support.filter(codename="manage_incident").exists()
    assert support.filter(codename="view_rawevent").exists()
    assert support.filter(codename="view_session", content_type__app_label="classify").exists()
    assert not support.filter(codename="view_full_numbers").exists()


def test_reseeding_leaves_an_edited_group_alone():
    support = Group.objects.get(name="Support")
    support.permissions.remove(*support.permissions.filter(codename="view_rawevent"))
    seed_all(apps)
    assert not Group.objects.get(name="Support").permissions.filter(codename="view_rawevent").exists()
    assert Group.objects.filter(name__in=["Support", "Reference editors"]).count() == 2


def test_seeding_groups_creates_missing_permissions_first():
    # A fresh database migrates before post_migrate has created any permission.
    Group.objects.all().delete()
    Permission.objects.filter(content_type__app_label__in=["reference", "webhooks"]).delete()
    seed_all(apps)
    assert Group.objects.get(name="Reference editors").permissions.count() == 21
    assert Group.objects.get(name="Support").permissions.filter(codename="view_rawevent").exists()


def test_the_iana_and_callflows_rows_carry_their_semantics():
    early = SipCode.objects.get(code=199)
    assert (early.reason_phrase, early.retry_advice, early.responsibility) == (
        "Early Dialog Terminated",
        "none",
        "none",
    )
    for code in (607, 608):  # not the callee's behaviour, unlike the rest of 6xx
        row = SipCode.objects.get(code=code)
        assert (row.responsibility, row.retry_advice) == ("carrier_or_platform", "do_not_retry")
        assert row.explanation
        assert row.description
    assert SipCode.objects.get(code=428).responsibility == "configuration"
    created = VoiceErrorCode.objects.get(code=1)
    assert (created.message, created.retry_advice, created.responsibility) == ("Created", "none", "none")
    dtmf = VoiceErrorCode.objects.get(code=-1004)
    assert (dtmf.message, dtmf.retry_advice, dtmf.responsibility) == (
        "DTMF callback url not provided", "fix_request", "configuration",
    )  # fmt: skip
    assert set(VoiceErrorCode.objects.filter(code__range=(-1020, -1001)).values_list("code", flat=True)) == set(
        range(-1020, -1000)
    )


@pytest.mark.django_db(transaction=True)
def test_the_completing_migration_never_overwrites_an_admin_edit():
    from reference.seed import seed_complete_reference

    SipCode.objects.filter(code=607).update(explanation="Our own words")
    VoiceErrorCode.objects.filter(code=-1004).delete()
    seed_complete_reference(apps)
    assert SipCode.objects.get(code=607).explanation == "Our own words"
    assert VoiceErrorCode.objects.filter(code=-1004).count() == 1
