from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User


@pytest.fixture
def manager_user(db) -> User:
    """An incident manager: may resolve, ignore, assign; numbers masked."""
    user = User.objects.create_user("manager", password="manager-pass-123")
    user.groups.add(Group.objects.get(name="Incident managers"))
    return user
