"""Permissions for the support workflow, given to groups by migration (incidents 0002).

Support (reference/seed.py creates it) may read incidents, acknowledge them, add notes to them and
to sessions. "Incident managers" may also resolve, ignore, assign and set tickets.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from reference.seed import SUPPORT_GROUP, _permission_ids

MANAGER_GROUP = "Incident managers"
SUPPORT_PERMISSIONS = {
    ("incidents", "view_incident"),
    ("incidents", "acknowledge_incident"),
    ("incidents", "view_incidentactivity"),
    ("notes", "view_sessionnote"),
    ("notes", "add_sessionnote"),
}
MANAGER_PERMISSIONS = SUPPORT_PERMISSIONS | {("incidents", "manage_incident")}


def seed_incident_groups(apps: Any, using: str = DEFAULT_DB_ALIAS) -> None:
    """Add the permissions to Support and create Incident managers; never removes anything."""
    Group = apps.get_model("auth", "Group")
    ids = _permission_ids(apps, using, MANAGER_PERMISSIONS)
    for name, wanted in ((SUPPORT_GROUP, SUPPORT_PERMISSIONS), (MANAGER_GROUP, MANAGER_PERMISSIONS)):
        group, _ = Group.objects.using(using).get_or_create(name=name)
        group.permissions.add(*[ids[key] for key in sorted(wanted)])
