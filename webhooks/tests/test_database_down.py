"""PostgreSQL unavailable: 503 with a JSON reason so 8x8 can retry, and nothing half-written."""

from __future__ import annotations

import pytest
from django.db import connection

from webhooks.models import RawEvent
from webhooks.tests.conftest import fixture_body, post


@pytest.mark.django_db(transaction=True)
def test_database_unreachable_answers_503_and_stores_nothing(client):
    original_port = connection.settings_dict["PORT"]
    connection.close()
    connection.settings_dict["PORT"] = "1"  # a closed port: every connection attempt is refused
    try:
        response = post(client, fixture_body("vcs_2026"))
    finally:
        connection.close()
        connection.settings_dict["PORT"] = original_port

    assert response.status_code == 503
    assert response.json()["error"] == "database_unavailable"
    assert RawEvent.objects.count() == 0
    # And once PostgreSQL is back the retry is stored normally.
    assert post(client, fixture_body("vcs_2026")).json()["status"] == "stored"


@pytest.mark.django_db(transaction=True)
def test_a_persistent_connection_killed_by_a_postgres_restart_is_replaced_transparently(client):
    import psycopg

    connection.ensure_connection()
    backend_pid = connection.connection.info.backend_pid
    settings_dict = connection.settings_dict
    admin = psycopg.connect(host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432,
                            user=settings_dict["USER"], dbname="postgres", autocommit=True)  # fmt: skip
    with admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [backend_pid])

    response = post(client, fixture_body("vcs_2026"))

    assert response.json()["status"] == "stored"
    assert connection.connection.info.backend_pid != backend_pid
    assert RawEvent.objects.count() == 1
