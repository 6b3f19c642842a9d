"""The entry point of a process that generate_history starts with ``spawn``.

A spawned process starts a fresh interpreter: Django is set up here before anything imports a
model, and pointed at the caller's database (under pytest a test database whose name the settings
module does not hold). Forking instead copied the caller's threads' locks (tqdm's monitor thread,
a test server's) and could leave a child waiting on one forever.
"""

from __future__ import annotations

import os
from importlib import import_module
from typing import Any


def run(settings_module: str, database_name: str, target: str, *args: Any) -> None:
    """Set Django up with ``settings_module`` on ``database_name``, then call ``target``
    ("module:function") with ``args``."""
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    import django

    django.setup()
    from django.db import connection

    connection.settings_dict["NAME"] = database_name
    module, name = target.split(":")
    try:
        getattr(import_module(module), name)(*args)
    finally:
        connection.close()
