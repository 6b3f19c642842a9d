"""`manage.py check --deploy` is clean with production-like settings and refuses missing secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k3y-" + "9f8e7d6c5b4a" * 5,
    "DJANGO_ALLOWED_HOSTS": "sipdesk.example.com",
    "SIPDESK_WEBHOOK_SECRETS": "a-long-random-webhook-secret-value",
    "SIPDESK_METRICS_TOKEN": "a-long-random-metrics-token-value",
    "DATABASE_URL": "postgres://postgres@localhost:5432/sipdesk",
}


def run_deploy_check(**overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SIPDESK_"))}
    env.update(PRODUCTION_ENV)
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_deploy_check_is_clean_with_production_settings():
    result = run_deploy_check()
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_deploy_check_fails_without_a_webhook_secret():
    result = run_deploy_check(SIPDESK_WEBHOOK_SECRETS="")
    assert result.returncode != 0
    assert "sipdesk.E001" in result.stderr + result.stdout


def test_settings_refuse_to_start_without_a_secret_key_in_production():
    result = run_deploy_check(DJANGO_SECRET_KEY="")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


def test_deploy_check_warns_when_metrics_are_open_in_production():
    result = run_deploy_check(SIPDESK_METRICS_TOKEN="")
    assert result.returncode != 0  # --fail-level WARNING
    assert "sipdesk.W002" in result.stderr + result.stdout
    assert "SIPDESK_METRICS_TOKEN is empty" in result.stderr + result.stdout


def test_deprecated_trust_x_forwarded_for_alone_refuses_to_start():
    result = run_deploy_check(SIPDESK_TRUST_X_FORWARDED_FOR="1")
    assert result.returncode != 0
    assert "SIPDESK_TRUST_X_FORWARDED_FOR is deprecated" in result.stderr
    assert "SIPDESK_TRUSTED_PROXIES" in result.stderr


def test_deprecated_trust_x_forwarded_for_with_trusted_proxies_starts():
    result = run_deploy_check(SIPDESK_TRUST_X_FORWARDED_FOR="1", SIPDESK_TRUSTED_PROXIES="10.0.0.5,fd00::/8")
    assert result.returncode == 0, result.stderr + result.stdout
