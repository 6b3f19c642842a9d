"""Reference data: SIP codes, 8x8 statuses and error codes, troubleshooting guidance.

Seeded by data migrations from the 8x8 SIP response code document; admins edit the text.
Everything else reads it through the managers here or through ``reference.snapshot``.
"""

from __future__ import annotations

from django.db import models

from reference.snapshot import CodeInfo, class_digit, class_fallback


class RetryAdvice(models.TextChoices):
    RETRY_WITH_BACKOFF = "retry_with_backoff", "Retry with exponential backoff"
    RETRY_LATER = "retry_later", "Retry later"
    FIX_REQUEST = "fix_request", "Fix the request before retrying"
    DO_NOT_RETRY = "do_not_retry", "Do not retry"
    NONE = "none", "No action needed"


class Responsibility(models.TextChoices):
    CALLEE = "callee", "Callee behaviour"
    CALLER = "caller", "Caller behaviour"
    CONFIGURATION = "configuration", "Configuration (our request or account)"
    CARRIER_OR_PLATFORM = "carrier_or_platform", "Carrier or 8x8 platform"
    NONE = "none", "Nobody (not a fault)"


class SipClassQuerySet(models.QuerySet["SipClass"]):
    def for_code(self, code: int) -> SipClass | None:
        """The class an (unknown) code falls back to; None for anything outside 100…699."""
        digit = class_digit(code)
        return None if digit is None else self.filter(digit=digit).first()


class SipClass(models.Model):
    """The six SIP response classes (1xx … 6xx), keyed by their first digit."""

    digit = models.PositiveSmallIntegerField(primary_key=True)
    name = models.CharField(max_length=60)  # e.g. "Provisional Responses"
    meaning = models.TextField()
    default_retry_advice = models.CharField(max_length=24, choices=RetryAdvice.choices)
    default_responsibility = models.CharField(max_length=24, choices=Responsibility.choices)

    objects = SipClassQuerySet.as_manager()

    class Meta:
        ordering = ["digit"]
        verbose_name = "SIP class"
        verbose_name_plural = "SIP classes"

    def __str__(self) -> str:
        return f"{self.label} {self.name}"

    @property
    def label(self) -> str:
        return f"{self.digit}xx"

    def fallback_for(self, code: int) -> CodeInfo:
        """What the reference says about ``code``, a code of this class it does not list."""
        return class_fallback(code, self.name, self.meaning, self.default_retry_advice, self.default_responsibility)


class SipCodeQuerySet(models.QuerySet["SipCode"]):
    def lookup(self, code: int) -> SipCode | None:
        """The reference row for a code, or None when the code is not in the reference."""
        return self.select_related("sip_class").filter(code=code).first()


class SipCode(models.Model):
    code = models.PositiveSmallIntegerField(primary_key=True)
    sip_class = models.ForeignKey(SipClass, on_delete=models.PROTECT, related_name="codes")
    reason_phrase = models.CharField(max_length=80)
    description = models.TextField()
    common_cause = models.TextField(blank=True)
    retry_advice = models.CharField(max_length=24, choices=RetryAdvice.choices)
    responsibility = models.CharField(max_length=24, choices=Responsibility.choices)
    explanation = models.TextField(
        blank=True, help_text="Plain-language explanation a support engineer can paste to a customer."
    )

    objects = SipCodeQuerySet.as_manager()

    class Meta:
        ordering = ["code"]
        verbose_name = "SIP response code"

    def __str__(self) -> str:
        return f"{self.code} {self.reason_phrase}"


class SessionStatus(models.Model):
    """Values of VSS ``sessionStatus``."""

    code = models.CharField(max_length=32, primary_key=True)
    description = models.TextField()
    products = models.CharField(
        max_length=120, blank=True, help_text="Products that document this status; blank means all."
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = "session status"
        verbose_name_plural = "session statuses"

    def __str__(self) -> str:
        return self.code


class LegStatus(models.Model):
    """Values of VSS leg ``callStatus``."""

    code = models.CharField(max_length=32, primary_key=True)
    description = models.TextField()
    session_level_only = models.BooleanField(
        default=False,
        help_text="Documented as a session status only; accepted on a leg anyway, and flagged.",
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "code"]
        verbose_name = "call leg status"
        verbose_name_plural = "call leg statuses"

    def __str__(self) -> str:
        return self.code


class VoiceErrorCode(models.Model):
    """8x8 voice error codes carried in VSS ``errorDetails.errorCode`` (negative integers), and the
    Callflows API status codes (1, -1001 … -1020), which a failed call may also be reported with."""

    code = models.IntegerField(primary_key=True)
    message = models.CharField(max_length=200)
    guidance = models.TextField(blank=True)
    retry_advice = models.CharField(max_length=24, choices=RetryAdvice.choices)
    responsibility = models.CharField(max_length=24, choices=Responsibility.choices)

    class Meta:
        ordering = ["-code"]  # -2001 first, -9999 last
        verbose_name = "8x8 voice error code"

    def __str__(self) -> str:
        return f"{self.code} {self.message}"


class TroubleshootingEntry(models.Model):
    issue = models.CharField(max_length=120, unique=True)
    action = models.TextField()
    sip_codes = models.ManyToManyField(SipCode, related_name="troubleshooting_entries", blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "issue"]
        verbose_name_plural = "troubleshooting entries"

    def __str__(self) -> str:
        return self.issue


class BestPractice(models.Model):
    topic = models.CharField(max_length=60)  # e.g. "Number Formatting"
    text = models.TextField()
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["topic", "text"], name="unique_best_practice")]

    def __str__(self) -> str:
        return f"{self.topic}: {self.text[:60]}"
