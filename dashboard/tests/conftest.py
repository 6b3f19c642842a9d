from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client


@pytest.fixture(autouse=True)
def _fresh_cache():
    """The cache (Redis) outlives each test's rolled-back database: known sub-accounts and the like."""
    cache.clear()
    yield
    cache.clear()


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
