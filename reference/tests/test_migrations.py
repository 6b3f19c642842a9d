"""The reference migrations can be unapplied and applied again."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import connection

from reference.models import SipCode


def reference_tables() -> set[str]:
    return {t for t in connection.introspection.table_names() if t.startswith("reference_")}


@pytest.mark.django_db(transaction=True)
def test_migrate_reference_zero_and_back():
    SipCode.objects.filter(code=486).update(description="Edited before rollback")
    try:
        call_command("migrate", "reference", "zero", verbosity=0)
        assert reference_tables() == set()
        assert not Group.objects.filter(name__in=["Support", "Reference editors"]).exists()
    finally:
        call_command("migrate", verbosity=0)
    assert SipCode.objects.count() == 75
    # Forward again is a fresh seed: the document's text, not the edit made before.
    assert SipCode.objects.get(code=486).description.startswith("Callee's endpoint is busy")
    assert Group.objects.get(name="Reference editors").permissions.filter(codename="change_sipcode").exists()


@pytest.mark.django_db(transaction=True)
def test_unapplying_the_seed_deletes_only_seeded_rows():
    SipCode.objects.create(code=499, sip_class_id=4, reason_phrase="Custom", description="Added by an admin")
    try:
        call_command("migrate", "reference", "0001", verbosity=0)
        assert list(SipCode.objects.values_list("code", flat=True)) == [499]
    finally:
        call_command("migrate", verbosity=0)
    assert SipCode.objects.count() == 76
