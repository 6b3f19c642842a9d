"""Product rules as the classifier uses them: pure, loaded once per batch (like the reference snapshot).

8x8 sends no product field. An admin can say which product a sub-account, or a virtual number,
belongs to (``products.models.ProductRule``); a matching rule wins over inference
(classify/rules.py ``infer_product``). The virtual number of a leg is the 8x8 number on it: the
source of an OUTBOUND leg (the caller ID 8x8 presents), the destination of an INBOUND leg (the
number that was dialled).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

PRODUCT_LABELS = {"IVR": "IVR", "VOICE_MESSAGING": "Voice Messaging", "NUMBER_MASKING": "Number Masking"}
_NOT_DIGITS = re.compile(r"\D")


def number_key(number: str) -> str:
    """Digits only: "+65 6833 2048", "6568332048" and "+6568332048" are one number (legacy
    callbacks omit the "+")."""
    return _NOT_DIGITS.sub("", number or "")


@dataclass(frozen=True)
class Rule:
    id: int
    product: str
    sub_account_id: str = ""
    number: str = ""

    @property
    def label(self) -> str:
        parts = []
        if self.sub_account_id:
            parts.append(f"sub-account {self.sub_account_id}")
        if self.number:
            parts.append(f"number {self.number}")
        return " and ".join(parts)

    @property
    def specificity(self) -> int:
        """Sub-account and number > number alone > sub-account alone."""
        return (2 if self.number else 0) + (1 if self.sub_account_id else 0)


@dataclass(frozen=True)
class RuleVerdict:
    product: str  # "" when the matching rules disagree
    reason: str


@dataclass(frozen=True)
class ProductRuleSet:
    rules: tuple[Rule, ...] = ()

    def match(self, sub_account_id: str, virtual_numbers: Iterable[str]) -> RuleVerdict | None:
        """The most specific matching rules' product; None when no rule matches."""
        numbers = {number_key(n) for n in virtual_numbers if number_key(n)}
        matching = [
            rule
            for rule in self.rules
            if (not rule.sub_account_id or rule.sub_account_id == sub_account_id)
            and (not rule.number or number_key(rule.number) in numbers)
        ]
        if not matching:
            return None
        best = max(rule.specificity for rule in matching)
        winners = sorted((r for r in matching if r.specificity == best), key=lambda r: r.id)
        products = {rule.product for rule in winners}
        if len(products) == 1:
            return RuleVerdict(winners[0].product, "rule: " + "; ".join(rule.label for rule in winners))
        says = ", ".join(f"{rule.label} says {PRODUCT_LABELS.get(rule.product, rule.product)}" for rule in winners)
        return RuleVerdict("", f"product rules disagree ({says})")


def virtual_numbers(legs: Iterable[Any]) -> list[str]:
    """The 8x8 numbers on these legs (objects with direction, source and destination)."""
    found = []
    for leg in legs:
        direction = getattr(leg, "direction", "")
        if direction == "OUTBOUND" and getattr(leg, "source", ""):
            found.append(leg.source)
        elif direction == "INBOUND" and getattr(leg, "destination", ""):
            found.append(leg.destination)
    return found


def load_product_rules() -> ProductRuleSet:
    from products.models import ProductRule

    return ProductRuleSet(
        tuple(
            Rule(id=pk, product=product, sub_account_id=sub, number=number)
            for pk, product, sub, number in ProductRule.objects.order_by("id").values_list(
                "id", "product", "sub_account_id", "number"
            )
        )
    )
