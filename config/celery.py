from __future__ import annotations

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("sipdesk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def name_worker_connections(**_: object) -> None:
    """Connect to PostgreSQL under the workers' name, before any pool process forks.

    Workers find each other by it and split the sessions between them, so a session's events
    stay with one process (classify/pipeline.py, docs/design.md §2.3)."""
    from django.db import connections

    from config.db import WORKER_APPLICATION_NAME

    database = connections["default"]
    database.settings_dict["OPTIONS"]["application_name"] = WORKER_APPLICATION_NAME
    database.close()  # a connection opened before this signal would keep its old name
