"""Reading what a person typed into the session filters: what they meant, or why it cannot be read.

dashboard.forms.SessionFilterForm calls these from its clean_* methods, so a bad value is shown
as an error beside its field (and the list is not shown) rather than silently dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pycountry
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Q

from classify.models import OutcomeGroup, Session

log = logging.getLogger(__name__)

# --- destination country -------------------------------------------------------------------

# Names people use that ISO 3166 spells otherwise (pycountry knows official and common names).
COUNTRY_ALIASES = {
    "UK": "GB",
    "ENGLAND": "GB",
    "BRITAIN": "GB",
    "GREAT BRITAIN": "GB",
    "USA": "US",
    "AMERICA": "US",
    "UNITED STATES OF AMERICA": "US",
    "SOUTH KOREA": "KR",
    "KOREA": "KR",
    "NORTH KOREA": "KP",
    "RUSSIA": "RU",
    "VIETNAM": "VN",
    "LAOS": "LA",
    "TAIWAN": "TW",
    "IRAN": "IR",
    "SYRIA": "SY",
    "BOLIVIA": "BO",
    "VENEZUELA": "VE",
    "TANZANIA": "TZ",
    "MOLDOVA": "MD",
}


def country_code(value: str) -> str:
    """'PH', 'ph', 'PHL', 'Philippines' → 'PH'. Raises ValidationError for anything else."""
    text = " ".join(value.split())
    if not text:
        return ""
    upper = text.upper()
    if upper in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[upper]
    try:
        # lookup() matches alpha-2, alpha-3, numeric, name, official and common name, case-insensitively:
        # never a fuzzy guess, so an answer is always what was meant.
        return pycountry.countries.lookup(text).alpha_2
    except LookupError:
        raise ValidationError(
            "“%(value)s” is not a country: use a two-letter code (PH) or a name (Philippines).",
            code="unknown_country",
            params={"value": text[:40]},
        ) from None


# --- 8x8 error codes ------------------------------------------------------------------------


def error_code(value: int) -> int:
    """8x8's voice error codes are negative (−2004); 2004 typed without the minus means −2004.

    1 (the Callflows API's "Created") is the one positive code; it is kept as it is."""
    return -value if value > 1 else value


# --- sub-accounts ------------------------------------------------------------------------

KNOWN_SUB_ACCOUNTS_LIMIT = 500
_KNOWN_CACHE_KEY = "dashboard:known-sub-accounts"
_KNOWN_CACHE_SECONDS = 60

# PostgreSQL has no skip scan: this walks the sub-account index one distinct value at a time (a
# "loose index scan"), so it costs one index probe per sub-account, not one per session.
_DISTINCT_SUB_ACCOUNTS_SQL = """
WITH RECURSIVE walk AS (
    (SELECT sub_account_id FROM {table} WHERE sub_account_id > '' ORDER BY sub_account_id LIMIT 1)
    UNION ALL
    SELECT (SELECT s.sub_account_id FROM {table} s WHERE s.sub_account_id > walk.sub_account_id
            ORDER BY s.sub_account_id LIMIT 1)
    FROM walk WHERE walk.sub_account_id IS NOT NULL
)
SELECT sub_account_id FROM walk WHERE sub_account_id IS NOT NULL LIMIT %s
"""


def known_sub_accounts() -> list[str]:
    """Every sub-account sessions were stored for (up to 500), cached for a minute.

    Feeds the filter's suggestions and its case-insensitive match."""
    try:
        found = cache.get(_KNOWN_CACHE_KEY)
    except Exception:  # the cache (Redis) is a help, not a need
        log.warning("cache unavailable for known sub-accounts", exc_info=True)
        found = None
    if found is not None:
        return found
    with connection.cursor() as cursor:
        cursor.execute(
            _DISTINCT_SUB_ACCOUNTS_SQL.format(table=connection.ops.quote_name(Session._meta.db_table)),
            [KNOWN_SUB_ACCOUNTS_LIMIT],
        )
        names = [row[0] for row in cursor.fetchall()]
    found = sorted(names, key=lambda name: (name.casefold(), name))
    try:
        cache.set(_KNOWN_CACHE_KEY, found, _KNOWN_CACHE_SECONDS)
    except Exception:
        log.warning("cache unavailable for known sub-accounts", exc_info=True)
    return found


def sub_account_q(value: str) -> Q:
    """A case-insensitive match on the sub-account that still uses its index where it can.

    The known spellings (re-read every minute) are matched exactly, on the index; a value no
    known spelling matches (new in the last minute, or none at all) falls back to a
    case-insensitive comparison."""
    folded = value.casefold()
    spellings = {name for name in known_sub_accounts() if name.casefold() == folded}
    if spellings:
        return Q(sub_account_id__in=spellings | {value})
    return Q(sub_account_id__iexact=value)


def encodable(value: str) -> bool:
    """False for text PostgreSQL cannot store (a lone surrogate, NUL): such a value matches nothing."""
    if "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- counting ----------------------------------------------------------------------------

COUNT_LIMIT = 1000


def capped_count(queryset, limit: int | None = None) -> tuple[int, bool]:
    """(count, more): counts at most limit + 1 rows, so a huge match costs no more than a page or so."""
    limit = limit or COUNT_LIMIT
    n = queryset.order_by().values("pk")[: limit + 1].count()
    return min(n, limit), n > limit


# --- live feed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedFilter:
    """The overview's live feed filter: failures only and/or one sub-account (case-insensitive)."""

    failures_only: bool = False
    sub_account: str = ""

    @classmethod
    def from_params(cls, params) -> FeedFilter:
        sub_account = " ".join(params.get("sub_account", "").split())[:64]
        return cls(params.get("failures") == "1", sub_account if encodable(sub_account) else "")

    def q(self) -> Q | None:
        if not (self.failures_only or self.sub_account):
            return None
        where = Q()
        if self.failures_only:
            where &= Q(outcome_group__in=FEED_FAILURE_GROUPS)
        if self.sub_account:
            where &= sub_account_q(self.sub_account)
        return where


# "Failures" in the feed are what the overview's "Failed + error" tile counts; busy and no-answer
# are the callee's doing.
FEED_FAILURE_GROUPS = (OutcomeGroup.FAILED, OutcomeGroup.ERROR)
