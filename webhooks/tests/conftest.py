from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

FIXTURES = Path(__file__).parent / "fixtures"
URL = "/webhooks/8x8/"
SECRET = "test-webhook-secret"  # config/settings_test.py


def fixture_body(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def fixture_json(name: str) -> dict[str, Any]:
    return json.loads(fixture_body(name))


def post(
    client: Client,
    body: bytes | dict,
    *,
    auth: str | None = f"Bearer {SECRET}",
    content_type: str = "application/json",
    url: str = URL,
    **extra: Any,
):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    if auth is not None:
        extra["HTTP_AUTHORIZATION"] = auth
    return client.generic("POST", url, data, content_type=content_type, **extra)


@pytest.fixture
def client() -> Client:
    return Client()
