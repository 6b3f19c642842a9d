"""A read-only, in-memory copy of the reference, loaded once per classification batch.

The classifier's pure functions take a ``ReferenceSnapshot`` instead of touching the database,
so they stay fast and easy to test, and a batch sees one consistent version of the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CodeInfo:
    """What sipdesk knows about one SIP code (or, for unknown codes, about its class)."""

    code: int
    sip_class: int  # first digit, 1..6
    reason_phrase: str
    description: str
    common_cause: str
    retry_advice: str
    responsibility: str
    explanation: str
    known: bool  # False when the code is not in the reference and this came from its class


@dataclass(frozen=True)
class ErrorCodeInfo:
    code: int
    message: str
    guidance: str
    retry_advice: str
    responsibility: str


@dataclass(frozen=True)
class TroubleshootingInfo:
    id: int
    issue: str
    action: str
    sip_codes: frozenset[int]


# --- the class fallback: what sipdesk knows about a code that is not in the reference ----------


def class_digit(code: int) -> int | None:
    """The SIP class (first digit) a code not in the reference falls back to; None outside 100…699."""
    return code // 100 if 100 <= code <= 699 else None


def unknown_code_reason(code: int) -> str:
    """The reason phrase shown for a code not in the reference: "Unknown 4xx code"."""
    digit = class_digit(code)
    return f"Unknown {digit}xx code" if digit else "Unknown invalid code"


def class_fallback(code: int, name: str, meaning: str, retry_advice: str, responsibility: str) -> CodeInfo:
    """A code not in the reference, described by its class (``SipClass.fallback_for`` and the
    snapshot both use this)."""
    return CodeInfo(
        code=code,
        sip_class=code // 100,
        reason_phrase=unknown_code_reason(code),
        description=meaning,
        common_cause="",
        retry_advice=retry_advice,
        responsibility=responsibility,
        explanation=f"{code} is not in the reference; it is treated as a {name.lower()}.",
        known=False,
    )


@dataclass(frozen=True)
class ReferenceSnapshot:
    classes: dict[int, dict] = field(default_factory=dict)  # digit -> {name, meaning, retry, resp}
    codes: dict[int, CodeInfo] = field(default_factory=dict)
    error_codes: dict[int, ErrorCodeInfo] = field(default_factory=dict)
    session_statuses: frozenset[str] = frozenset()
    leg_statuses: frozenset[str] = frozenset()
    session_level_only_leg_statuses: frozenset[str] = frozenset()
    troubleshooting: tuple[TroubleshootingInfo, ...] = ()

    def code(self, code: int) -> CodeInfo | None:
        """The code's reference entry, falling back to its class; None for an invalid code."""
        if code in self.codes:
            return self.codes[code]
        digit = class_digit(code)
        sip_class = self.classes.get(digit) if digit else None
        if sip_class is None:
            return None
        return class_fallback(
            code, sip_class["name"], sip_class["meaning"], sip_class["retry_advice"], sip_class["responsibility"]
        )

    def error_code(self, code: int) -> ErrorCodeInfo | None:
        return self.error_codes.get(code)

    def troubleshooting_for(self, code: int) -> tuple[TroubleshootingInfo, ...]:
        return tuple(entry for entry in self.troubleshooting if code in entry.sip_codes)


def load_snapshot() -> ReferenceSnapshot:
    """Read the whole reference (a few hundred rows) in a handful of queries."""
    from reference.models import LegStatus, SessionStatus, SipClass, SipCode, TroubleshootingEntry, VoiceErrorCode

    classes = {
        c.digit: {
            "name": c.name,
            "meaning": c.meaning,
            "retry_advice": c.default_retry_advice,
            "responsibility": c.default_responsibility,
        }
        for c in SipClass.objects.all()
    }
    codes = {
        c.code: CodeInfo(
            code=c.code,
            sip_class=c.sip_class_id,
            reason_phrase=c.reason_phrase,
            description=c.description,
            common_cause=c.common_cause,
            retry_advice=c.retry_advice,
            responsibility=c.responsibility,
            explanation=c.explanation,
            known=True,
        )
        for c in SipCode.objects.all()
    }
    error_codes = {
        e.code: ErrorCodeInfo(e.code, e.message, e.guidance, e.retry_advice, e.responsibility)
        for e in VoiceErrorCode.objects.all()
    }
    troubleshooting = tuple(
        TroubleshootingInfo(t.id, t.issue, t.action, frozenset(s.code for s in t.sip_codes.all()))
        for t in TroubleshootingEntry.objects.prefetch_related("sip_codes")
    )
    leg_statuses = list(LegStatus.objects.all())
    return ReferenceSnapshot(
        classes=classes,
        codes=codes,
        error_codes=error_codes,
        session_statuses=frozenset(SessionStatus.objects.values_list("code", flat=True)),
        leg_statuses=frozenset(s.code for s in leg_statuses),
        session_level_only_leg_statuses=frozenset(s.code for s in leg_statuses if s.session_level_only),
        troubleshooting=troubleshooting,
    )
