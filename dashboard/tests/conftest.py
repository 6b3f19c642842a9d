from __future__ import annotations

import pytest
from django.test import Client


@pytest.fixture
def support_client(support_user) -> Client:
    client = Client()
    client.force_login(support_user)
    return client


@pytest.fixture
def numbers_client(numbers_user) -> Client:
    client = Client()
    client.force_login(numbers_user)
    return client
