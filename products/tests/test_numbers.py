"""Virtual numbers from VNU webhooks, through the pipeline (issue 10)."""

from __future__ import annotations

import copy

import pytest

from classify.normalise import normalise
from classify.tests.helpers import drain, store
from products.models import VirtualNumber
from webhooks.models import RawEvent
from webhooks.tests.conftest import fixture_json

pytestmark = pytest.mark.django_db


def vnu(status: str, when: str, *, number: str = "+6568332049", **entry) -> dict:
    body = copy.deepcopy(fixture_json("vnu_snapshot"))
    body["payload"]["updateEventType"] = "UPDATES"
    body["payload"]["virtualNumbers"] = [
        {**body["payload"]["virtualNumbers"][1], "msisdn": number, "operationalStatus": status,
         "updatedTimestamp": when, **entry}
    ]  # fmt: skip
    return body


def test_the_latest_update_of_a_number_wins_whatever_the_arrival_order():
    store(vnu("Unhealthy", "2026-01-13T10:00:00.000Z"))
    store(vnu("Active", "2026-01-13T09:00:00.000Z"))  # older, arrives later
    drain()
    number = VirtualNumber.objects.get(msisdn="+6568332049")
    assert (number.operational_status, number.update_event_type) == ("Unhealthy", "UPDATES")
    store(vnu("Active", "2026-01-13T11:00:00.000Z"))
    drain()
    assert VirtualNumber.objects.get(msisdn="+6568332049").operational_status == "Active"


def test_odd_vnu_entries_do_not_lose_the_good_ones_or_fail_the_event():
    body = fixture_json("vnu_snapshot")
    body["payload"]["virtualNumbers"] += [
        "not an object", {"msisdn": None}, {"msisdn": "+6500000001", "updatedTimestamp": "soon",
        "operationalStatus": "ACTIVE", "numberHealthCheckEnabled": "yes", "countryCode": 65},
        {"msisdn": "+65" + "9" * 60, "operationalStatus": "Melting", "referenceId": "r" * 500},
    ]  # fmt: skip
    store(body)
    drain()
    assert RawEvent.objects.get().state == "processed"
    numbers = {n.msisdn: n for n in VirtualNumber.objects.all()}
    assert len(numbers) == 4
    odd = numbers["+6500000001"]
    assert (odd.operational_status, odd.updated_at_8x8, odd.health_check_enabled) == ("Active", None, None)
    assert normalise(body).unknown_values == ("operationalStatus=Melting",)


def test_a_vnu_as_a_bare_object_is_read_too():
    body = fixture_json("vnu_snapshot")
    body["payload"]["virtualNumbers"] = body["payload"]["virtualNumbers"][1]  # the table says "Object"
    assert [n.msisdn for n in normalise(body).virtual_numbers] == ["+6568332049"]
