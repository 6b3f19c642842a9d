"""``manage.py product_rule add|list|remove``: the product rules from the command line.

    product_rule add --sub-account acme_nm --product number_masking
    product_rule add --number +6568332048 --product ivr [--note "support line"]
    product_rule list
    product_rule remove --sub-account acme_nm  |  remove --number +6568332048  |  remove --id 3

Adding a rule for a scope that already has one replaces its product. Every change is written to
the admin log (the rule's History page), like an edit in the admin, and re-derives the sessions
the rule covers.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from products.models import ProductRule, RuleProduct

PRODUCTS = {choice.value.lower(): choice.value for choice in RuleProduct}


class Command(BaseCommand):
    help = "Add, list or remove product rules (sub-account and/or virtual number → product)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="add or replace a rule")
        add.add_argument("--sub-account", default="")
        add.add_argument("--number", default="", help="E.164 virtual number, e.g. +6568332048")
        add.add_argument("--product", required=True, choices=sorted(PRODUCTS))
        add.add_argument("--note", default="")
        actions.add_parser("list", help="list the rules")
        remove = actions.add_parser("remove", help="remove a rule")
        remove.add_argument("--id", type=int)
        remove.add_argument("--sub-account", default="")
        remove.add_argument("--number", default="")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        getattr(self, f"_{action}")(**options)

    def _list(self, **options: Any) -> None:
        rules = list(ProductRule.objects.all())
        if not rules:
            self.stdout.write("No product rules.")
        for rule in rules:
            note = f"  ({rule.note})" if rule.note else ""
            self.stdout.write(
                f"{rule.pk:>4}  {rule.sub_account_id or '-':<24} {rule.number or '-':<16} {rule.product}{note}"
            )

    @transaction.atomic
    def _add(self, *, sub_account: str, number: str, product: str, note: str, **options: Any) -> None:
        sub_account, number = sub_account.strip(), number.strip()
        rule = ProductRule.objects.filter(sub_account_id=sub_account, number=number).first()
        old = (rule.product, rule.note) if rule else None
        rule = rule or ProductRule(sub_account_id=sub_account, number=number)
        rule.product, rule.note = PRODUCTS[product], note or (rule.note if old else "")
        try:
            rule.full_clean(validate_unique=False)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None
        rule.save()
        if old is None:
            _log(rule, ADDITION, "Added from the command line.")
            self.stdout.write(self.style.SUCCESS(f"Added rule {rule.pk}: {rule}"))
        elif old != (rule.product, rule.note):
            _log(rule, CHANGE, f'Changed product: "{old[0]}" → "{rule.product}" (command line).')
            self.stdout.write(self.style.SUCCESS(f"Changed rule {rule.pk}: {rule}"))
        else:
            self.stdout.write(f"Rule {rule.pk} already says so: {rule}")

    @transaction.atomic
    def _remove(self, *, id: int | None, sub_account: str, number: str, **options: Any) -> None:
        if id is not None:
            rules = ProductRule.objects.filter(pk=id)
        elif sub_account or number:
            rules = ProductRule.objects.filter(sub_account_id=sub_account.strip(), number=number.strip())
        else:
            raise CommandError("say which rule: --id, --sub-account and/or --number")
        rule = rules.first()
        if rule is None:
            raise CommandError("no such rule (see `product_rule list`)")
        _log(rule, DELETION, "Removed from the command line.")
        label = str(rule)
        rule.delete()
        self.stdout.write(self.style.SUCCESS(f"Removed rule: {label}"))


def _log(rule: ProductRule, action: int, message: str) -> None:
    """The admin log has a user; the command line's changes are logged under the first superuser
    (or not at all on a database without one, e.g. before createsuperuser)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(is_superuser=True).order_by("pk").first()
    if user is None:
        return
    LogEntry.objects.create(
        user=user,
        content_type=ContentType.objects.get_for_model(ProductRule),
        object_id=str(rule.pk),
        object_repr=str(rule)[:200],
        action_flag=action,
        change_message=message,
    )
