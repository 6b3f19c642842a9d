"""The fingerprint that makes failing sessions one incident, and the sessions it stands for.

A fingerprint is primary cause (SIP code, 8x8 error code or status) + fault side + sub-account +
destination country + product. Every part is a column a support engineer can read on the
session page, so the incident can say why two sessions are one problem (STYLE 17).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet

from classify.models import CallLeg, CauseKind, FaultSide, OutcomeGroup, Product, Session

# The only side that is never an incident on its own: busy, no answer, declined are the callee's
# doing. Any other side (platform, network, configuration, undecided) counts.
EXCLUDED_SIDE = FaultSide.CUSTOMER.value
FAILING_GROUPS = (OutcomeGroup.FAILED.value, OutcomeGroup.ERROR.value, OutcomeGroup.NOT_ANSWERED.value)
CAUSE_LABEL: dict[str, str] = {CauseKind.SIP: "SIP", CauseKind.ERROR_CODE: "8x8 error", CauseKind.STATUS: "status"}


def candidates(qs: QuerySet[Session] | None = None) -> QuerySet[Session]:
    """Sessions that can belong to an incident: failing, with a cause, not on the customer's side."""
    qs = Session.objects.all() if qs is None else qs
    return (
        qs.filter(outcome_group__in=FAILING_GROUPS, start_time__isnull=False)
        .exclude(primary_cause="")
        .exclude(fault_side=EXCLUDED_SIDE)
    )


def _int(value: str) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class Fingerprint:
    cause_kind: str
    cause: str
    fault_side: str
    sub_account_id: str
    country: str
    product: str

    @property
    def key(self) -> str:
        parts = (self.cause_kind, self.cause, self.fault_side, self.sub_account_id, self.country, self.product)
        return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()

    @property
    def cause_label(self) -> str:
        return f"{CAUSE_LABEL.get(self.cause_kind, self.cause_kind)} {self.cause}"

    def explain(self) -> list[tuple[str, str]]:
        """("what", "value") pairs for "grouped by: …"."""
        parts = [
            ("cause", self.cause_label),
            ("fault side", self.fault_side.replace("_", " ") or "—"),
            ("sub-account", self.sub_account_id or "—"),
            ("destination country", self.country or "—"),
        ]
        if self.product and self.product != Product.UNKNOWN:
            parts.append(("product", self.product))
        return parts

    def sessions(self, start: datetime | None = None, end: datetime | None = None) -> QuerySet[Session]:
        """The sessions with this fingerprint whose start falls in [start, end]."""
        qs = Session.objects.filter(
            primary_cause_kind=self.cause_kind,
            primary_cause=self.cause,
            fault_side=self.fault_side,
            sub_account_id=self.sub_account_id,
            product=self.product,
            start_time__isnull=False,
        )
        # The narrow indexed column first (classify's session_cause_sip_idx / session_error_code_idx).
        code = _int(self.cause)
        if self.cause_kind == CauseKind.SIP and code is not None:
            qs = qs.filter(primary_sip_code=code)
        elif self.cause_kind == CauseKind.ERROR_CODE and code is not None:
            qs = qs.filter(error_code=code)
        elif self.cause_kind == CauseKind.STATUS:
            qs = qs.filter(status=self.cause)
        if start is not None:
            qs = qs.filter(start_time__gte=start)
        if end is not None:
            qs = qs.filter(start_time__lte=end)
        # Same meaning as the sessions list's country filter: a leg to that country.
        country_leg = CallLeg.objects.filter(session=OuterRef("pk"), destination_country=self.country)
        if self.country:
            return qs.filter(Exists(country_leg))
        return qs.exclude(Exists(CallLeg.objects.filter(session=OuterRef("pk")).exclude(destination_country="")))

    def sessions_list_params(self, start: datetime | None, end: datetime | None) -> dict[str, Any]:
        """The same set as /sessions/ GET parameters (dashboard.forms.SessionFilterForm)."""
        params: dict[str, Any] = {"sub_account": self.sub_account_id}
        code = _int(self.cause)
        if self.cause_kind == CauseKind.SIP and code is not None:
            params["sip_code"] = code
        elif self.cause_kind == CauseKind.ERROR_CODE and code is not None:
            params["error_code"] = code
        else:
            params["status"] = self.cause
        if self.country:
            params["country"] = self.country
        if self.product and self.product != Product.UNKNOWN:
            params["product"] = self.product
        if start is not None:
            params["start"] = start.strftime("%Y-%m-%dT%H:%M:%S")
        if end is not None:
            # The list's "end" is exclusive and to the second: round up past the last session.
            params["end"] = (end.replace(microsecond=0) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S")
        return {k: v for k, v in params.items() if v not in ("", None)}


def session_country(session: Session) -> str:
    """The far end's country: the destination country of the last leg that has one."""
    countries = [leg.destination_country for leg in session.legs.all() if leg.destination_country]
    return countries[-1] if countries else ""


def for_session(session: Session, *, country: str | None = None) -> Fingerprint:
    return Fingerprint(
        cause_kind=session.primary_cause_kind,
        cause=session.primary_cause,
        fault_side=session.fault_side,
        sub_account_id=session.sub_account_id,
        country=session_country(session) if country is None else country,
        product=session.product,
    )


def is_candidate(session: Session) -> bool:
    return (
        session.outcome_group in FAILING_GROUPS
        and bool(session.primary_cause)
        and session.fault_side != EXCLUDED_SIDE
        and session.start_time is not None
    )
