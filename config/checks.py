"""System checks that refuse dangerous combinations of settings."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def webhook_secret_required_in_production(app_configs, **kwargs):
    if settings.DEBUG or settings.SIPDESK_WEBHOOK_SECRETS:
        return []
    return [
        Error(
            "SIPDESK_WEBHOOK_SECRETS is empty: the webhook endpoint would accept anyone.",
            hint="Set SIPDESK_WEBHOOK_SECRETS to the value configured as httpAuthHeader in 8x8.",
            id="sipdesk.E001",
        )
    ]


@register(Tags.security)
def weak_webhook_secrets(app_configs, **kwargs):
    short = [s for s in settings.SIPDESK_WEBHOOK_SECRETS if len(s) < 16]
    if settings.DEBUG or not short:
        return []
    return [
        Warning(
            f"{len(short)} webhook secret(s) are shorter than 16 characters.",
            hint="Use a long random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`).",
            id="sipdesk.W001",
        )
    ]


@register()
def demo_only_with_debug(app_configs, **kwargs):
    if settings.SIPDESK_DEMO and not settings.DEBUG:
        return [
            Error(
                "SIPDESK_DEMO is on while DJANGO_DEBUG is off.",
                hint="Demo data and the demo login are for local use only.",
                id="sipdesk.E002",
            )
        ]
    return []


@register(Tags.database)
def eager_tasks_only_with_debug(app_configs, **kwargs):
    if settings.CELERY_TASK_ALWAYS_EAGER and not settings.DEBUG:
        return [
            Error(
                "SIPDESK_TASKS_EAGER is on while DJANGO_DEBUG is off.",
                hint="In-process task execution is the local fallback when Redis is missing.",
                id="sipdesk.E003",
            )
        ]
    return []


@register(Tags.security, deploy=True)
def metrics_token_in_production(app_configs, **kwargs):
    if settings.DEBUG or settings.SIPDESK_METRICS_TOKEN:
        return []
    return [
        Warning(
            "SIPDESK_METRICS_TOKEN is empty: /metrics answers anyone who can reach it.",
            hint="Set SIPDESK_METRICS_TOKEN to a long random value and give Prometheus the same value "
            "(authorization: credentials in the scrape config); see README 'Security'.",
            id="sipdesk.W002",
        )
    ]
