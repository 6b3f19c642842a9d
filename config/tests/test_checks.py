"""System checks refuse dangerous settings combinations."""

from __future__ import annotations

from django.core.checks import run_checks
from django.test import override_settings

from config.checks import (
    demo_only_with_debug,
    eager_tasks_only_with_debug,
    weak_webhook_secrets,
    webhook_secret_required_in_production,
)


def ids(messages) -> list[str]:
    return [m.id for m in messages]


@override_settings(DEBUG=False, SIPDESK_WEBHOOK_SECRETS=[])
def test_production_without_a_webhook_secret_is_an_error():
    assert ids(webhook_secret_required_in_production(None)) == ["sipdesk.E001"]
    assert "sipdesk.E001" in ids(run_checks(include_deployment_checks=True))


@override_settings(DEBUG=True, SIPDESK_WEBHOOK_SECRETS=[])
def test_debug_without_a_secret_is_allowed():
    assert webhook_secret_required_in_production(None) == []


@override_settings(DEBUG=False, SIPDESK_WEBHOOK_SECRETS=["a-long-enough-secret-value"])
def test_production_with_a_strong_secret_passes():
    assert webhook_secret_required_in_production(None) == []
    assert weak_webhook_secrets(None) == []


@override_settings(DEBUG=False, SIPDESK_WEBHOOK_SECRETS=["short", "a-long-enough-secret-value"])
def test_short_secret_warns():
    assert ids(weak_webhook_secrets(None)) == ["sipdesk.W001"]
    assert "1 webhook secret" in weak_webhook_secrets(None)[0].msg


@override_settings(DEBUG=False, SIPDESK_DEMO=True, CELERY_TASK_ALWAYS_EAGER=True)
def test_demo_and_eager_tasks_need_debug():
    assert ids(demo_only_with_debug(None)) == ["sipdesk.E002"]
    assert ids(eager_tasks_only_with_debug(None)) == ["sipdesk.E003"]


@override_settings(DEBUG=True, SIPDESK_DEMO=True, CELERY_TASK_ALWAYS_EAGER=True)
def test_demo_and_eager_tasks_allowed_with_debug():
    assert demo_only_with_debug(None) == []
    assert eager_tasks_only_with_debug(None) == []
