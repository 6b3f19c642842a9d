from __future__ import annotations

from django.apps import AppConfig


class ProductsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "products"
    verbose_name = "Products and virtual numbers"

    def ready(self) -> None:
        from products import signals  # noqa: F401 - connects the rule-change handlers
