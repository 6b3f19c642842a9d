"""Whatever arrives, the receiver answers 200 or a 4xx with a JSON reason; never a 500."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from webhooks.tests.conftest import post

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=30,
)
# Bodies that look like 8x8's: an envelope with odd payloads, ids of the wrong type, and so on.
webhook_like = st.fixed_dictionaries(
    {"eventType": st.sampled_from(["SESSION_SUMMARY", "CALL_STATUS", "CALL_ACTION", "X"]) | json_values},
    optional={
        "payload": st.dictionaries(
            st.sampled_from(["eventId", "sessionId", "callId", "subAccountId", "details", "status"]), json_values
        )
        | json_values,
        "namespace": json_values,
        "sourceMsisdn": json_values,
        "details": json_values,
        "sessionId": json_values,
        "uid": json_values,
        "actionDetails": json_values,
    },
)


def assert_answered(response) -> None:
    assert response.status_code in (200, 400), response.content
    answer = response.json()
    assert answer.get("status") in ("stored", "duplicate") if response.status_code == 200 else answer["error"]


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(client, body):
    assert_answered(post(client, body))


@FUZZ
@given(json_values)
def test_random_json_values(client, value):
    assert_answered(post(client, json.dumps(value).encode()))


@FUZZ
@given(webhook_like)
def test_random_webhook_like_objects(client, body):
    assert_answered(post(client, json.dumps(body).encode()))


@FUZZ
@given(st.integers(min_value=1, max_value=3000), st.sampled_from(["[", '{"a":']))
def test_random_nesting(client, depth, opener):
    closer = "]" if opener == "[" else "}"
    assert_answered(post(client, (opener * depth + "1" + closer * depth).encode()))
