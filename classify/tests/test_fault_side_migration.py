"""classify/0006 splits the stored two-way fault side into the three sides (docs/design.md §5.5)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.db import connection

from classify.models import Session

ROWS = [  # session_id, kind, sip code, error code, status, old side, new side
    ("s-404", "sip", 404, None, "FAILED", "platform", "configuration"),
    ("s-503", "sip", 503, None, "FAILED", "platform", "network"),
    ("s-408", "sip", 408, None, "FAILED", "none", "network"),
    ("s-607", "sip", 607, None, "FAILED", "none", "network"),
    ("s-486", "sip", 486, None, "BUSY", "customer", "customer"),
    ("s-2003", "error_code", None, -2003, "ERROR", "platform", "configuration"),
    ("s-2004", "error_code", None, -2004, "ERROR", "platform", "network"),
    ("s-unsub", "status", None, None, "COMPLETED_UNSUB_ERROR", "customer", "network"),
    ("s-ok", "none", None, None, "COMPLETED", "none", "none"),
]


@pytest.mark.django_db(transaction=True)
def test_the_migration_splits_platform_into_network_and_configuration():
    call_command("migrate", "classify", "0005", verbosity=0)
    try:
        with connection.cursor() as cursor:
            for session_id, kind, sip, error, status, side, _ in ROWS:
                cursor.execute(
                    "INSERT INTO classify_session (session_id, sub_account_id, product, status, outcome_group,"
                    " fault_side, last_action, client_request_id, client_batch_id, error_code, error_message,"
                    " primary_cause, primary_cause_kind, primary_sip_code, retry_advice, responsibility, anomalies,"
                    " summary_received, updated_at) VALUES (%s, '', 'UNKNOWN', %s, 'failed', %s, '', '', '', %s, '',"
                    " '', %s, %s, '', '', '[]', true, now())",
                    [session_id, status, side, error, kind, sip],
                )
    finally:
        call_command("migrate", verbosity=0)
    assert dict(Session.objects.values_list("session_id", "fault_side")) == {r[0]: r[6] for r in ROWS}
