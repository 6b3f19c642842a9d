"""A saved or deleted product rule re-derives the sessions it covered and now covers."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from products.models import ProductRule
from products.rederive import rederive


@receiver(pre_save, sender=ProductRule)
def _remember_old_scope(sender: type, instance: ProductRule, **kwargs: Any) -> None:
    old = ProductRule.objects.filter(pk=instance.pk).values("sub_account_id", "number").first() if instance.pk else None
    setattr(instance, "_old_scope", (old["sub_account_id"], old["number"]) if old else ("", ""))  # noqa: B010 - not a model field


@receiver(post_save, sender=ProductRule)
def _rule_saved(sender: type, instance: ProductRule, **kwargs: Any) -> None:
    old_sub, old_number = getattr(instance, "_old_scope", ("", ""))
    subs, numbers = [old_sub, instance.sub_account_id], [old_number, instance.number]
    transaction.on_commit(lambda: rederive(subs, numbers))


@receiver(post_delete, sender=ProductRule)
def _rule_deleted(sender: type, instance: ProductRule, **kwargs: Any) -> None:
    subs, numbers = [instance.sub_account_id], [instance.number]
    transaction.on_commit(lambda: rederive(subs, numbers))
