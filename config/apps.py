from __future__ import annotations

from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Project wiring: registers the system checks for dangerous settings combinations."""

    name = "config"
    label = "config"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers the checks)
