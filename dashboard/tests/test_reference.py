from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(client):
    assert client.get("/reference/").status_code == 302


def test_lists_codes_classes_statuses_and_error_codes(support_client):
    response = support_client.get("/reference/")
    body = response.content.decode()
    assert "Busy Here" in body
    assert "NO_ANSWER" in body
    assert "No coverage available for requested area" in body
    assert len(response.context["classes"]) == 6


def test_search_narrows_every_table(support_client):
    context = support_client.get("/reference/?q=486").context
    assert [c.code for c in context["codes"]] == [486]
    assert [c.digit for c in context["classes"]] == [4]
    context = support_client.get("/reference/?q=coverage").context
    assert [e.code for e in context["errors"]] == [-2004]


def test_support_users_get_no_edit_links(support_client):
    response = support_client.get("/reference/")
    assert response.context["can_edit"]["code"] is False
    assert "/admin/reference/sipcode/" not in response.content.decode()


def test_editors_get_edit_links(editor_user, client):
    client.force_login(editor_user)
    response = client.get("/reference/?q=486")
    assert response.context["can_edit"]["code"] is True
    assert "/admin/reference/sipcode/486/change/" in response.content.decode()


def test_htmx_search_returns_only_the_results(support_client):
    body = support_client.get("/reference/?q=busy", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in body
    assert body.strip().startswith('<div id="reference-results"')
