from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo and benchmark tooling, kept out of the product apps: the traffic simulator
    (``traffic.py``, ``simulate_traffic``), ``generate_history`` and ``demo_login``."""

    name = "demo"
    default_auto_field = "django.db.models.BigAutoField"
