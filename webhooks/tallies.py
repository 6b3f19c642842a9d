"""Per-minute counts of what the receiver did besides storing a new event.

``record("duplicate", "")`` or ``record("refused", "unauthorized")`` upserts one
ReceiverTally row per (minute, outcome, reason). The dashboard's health strip and /metrics
read these rows, so they live in PostgreSQL and agree across web workers.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DatabaseError, connection
from django.utils import timezone

from webhooks.models import ReceiverTally

log = logging.getLogger(__name__)


def _upsert_sql() -> str:
    quote = connection.ops.quote_name
    table = quote(ReceiverTally._meta.db_table)
    count = quote("count")
    # One statement, so concurrent workers add up instead of overwriting each other.
    return (
        f"INSERT INTO {table} (minute, outcome, reason, {count}) VALUES (%s, %s, %s, %s) "  # noqa: S608 - names only
        f"ON CONFLICT (minute, outcome, reason) DO UPDATE SET {count} = {table}.{count} + EXCLUDED.{count}"
    )


_TABLE = ReceiverTally._meta.db_table
# Many (minute, outcome, reason) counts in one statement, for the ASGI receiver
# (webhooks/group_commit.py, $n placeholders); the keys must be distinct within one call.
BATCH_UPSERT_SQL = (
    f'INSERT INTO {_TABLE} (minute, outcome, reason, "count") '  # noqa: S608 - only model metadata is interpolated
    "SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::bigint[]) "
    f'ON CONFLICT (minute, outcome, reason) DO UPDATE SET "count" = {_TABLE}."count" + EXCLUDED."count"'
)


def key(outcome: str, reason: str = "") -> tuple[datetime, str, str]:
    """The (minute, outcome, reason) row a count belongs to, cut to the columns' widths."""
    return timezone.now().replace(second=0, microsecond=0), outcome[:16], reason[:40]


def record(outcome: str, reason: str = "", *, count: int = 1) -> None:
    """Add ``count`` to this minute's tally. Never raises: a tally must not turn a 4xx into a 500."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(_upsert_sql(), [*key(outcome, reason), count])
    except DatabaseError as exc:
        log.warning("could not record receiver tally %s/%s: %s", outcome, reason, exc)
