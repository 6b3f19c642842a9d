"""Product rules (admin-configured attribution) and the company's 8x8 virtual numbers (from VNU)."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from classify.models import Product

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class RuleProduct(models.TextChoices):
    """What a rule may say: any product but Unknown."""

    IVR = Product.IVR.value, Product.IVR.label
    VOICE_MESSAGING = Product.VOICE_MESSAGING.value, Product.VOICE_MESSAGING.label
    NUMBER_MASKING = Product.NUMBER_MASKING.value, Product.NUMBER_MASKING.label


def validate_e164(value: str) -> None:
    if value and not E164.match(value):
        raise ValidationError(f"{value!r} is not an E.164 number (+ then 7 to 15 digits, e.g. +6568332048).")


class ProductRuleQuerySet(models.QuerySet):
    def for_sub_account(self, sub_account_id: str) -> ProductRuleQuerySet:
        return self.filter(sub_account_id=sub_account_id)


class ProductRule(models.Model):
    """ "Sessions of this sub-account and/or on this virtual number are this product".

    The number is the 8x8 virtual number on a leg: the source of an outbound leg, the destination
    of an inbound leg. With both set, both must match. The most specific rule wins (both > number >
    sub-account); a rule always wins over inference. Saving or deleting a rule re-derives the
    sessions it covers (products/signals.py)."""

    sub_account_id = models.CharField("sub-account", max_length=64, blank=True, db_index=True)
    number = models.CharField(
        "virtual number", max_length=20, blank=True, validators=[validate_e164], help_text="E.164, e.g. +6568332048"
    )
    product = models.CharField(max_length=20, choices=RuleProduct.choices)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductRuleQuerySet.as_manager()

    class Meta:
        ordering = ["sub_account_id", "number"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(sub_account_id="", number=""), name="product_rule_has_a_sub_account_or_number"
            ),
            models.UniqueConstraint(fields=["sub_account_id", "number"], name="unique_product_rule"),
        ]

    def __str__(self) -> str:
        scope = " and ".join(
            part
            for part in (
                f"sub-account {self.sub_account_id}" if self.sub_account_id else "",
                f"number {self.number}" if self.number else "",
            )
            if part
        )
        return f"{scope} → {self.get_product_display()}"

    def clean(self) -> None:
        if not self.sub_account_id and not self.number:
            raise ValidationError("Give a sub-account, a virtual number, or both.")


class OperationalStatus(models.TextChoices):
    """VNU ``operationalStatus`` (8x8 sends title case)."""

    ACTIVE = "Active", "Active"
    UNHEALTHY = "Unhealthy", "Unhealthy"
    EXPIRING = "Expiring", "Expiring"
    INACTIVE = "Inactive", "Inactive"


class VirtualNumberQuerySet(models.QuerySet):
    def unhealthy(self) -> VirtualNumberQuerySet:
        return self.filter(operational_status=OperationalStatus.UNHEALTHY)


class VirtualNumber(models.Model):
    """One 8x8 virtual number of a sub-account, as the latest VNU said (by its updatedTimestamp)."""

    sub_account_id = models.CharField(max_length=64, blank=True)
    msisdn = models.CharField(max_length=40)
    country_code = models.CharField(max_length=8, blank=True)
    operational_status = models.CharField(max_length=32, blank=True)  # unknown values kept as sent
    reference_id = models.CharField(max_length=100, blank=True)
    update_event_type = models.CharField(max_length=32, blank=True)  # SNAPSHOT / UPDATES
    update_status = models.CharField(max_length=32, blank=True)  # NO_CHANGE / UPDATED
    health_check_enabled = models.BooleanField(null=True, blank=True)
    updated_at_8x8 = models.DateTimeField(null=True, blank=True)  # the number's updatedTimestamp
    raw_event_id = models.BigIntegerField(null=True, blank=True)  # the VNU it was last read from
    seen_at = models.DateTimeField(auto_now=True)

    objects = VirtualNumberQuerySet.as_manager()

    class Meta:
        ordering = ["sub_account_id", "msisdn"]
        constraints = [models.UniqueConstraint(fields=["sub_account_id", "msisdn"], name="unique_virtual_number")]

    def __str__(self) -> str:
        return f"{self.msisdn} ({self.operational_status or 'unknown'})"

    @property
    def unhealthy(self) -> bool:
        return self.operational_status == OperationalStatus.UNHEALTHY
