"""The company's virtual numbers, kept up to date from VNU webhooks by the classifier."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from classify.normalise import NormalisedEvent
from products.models import VirtualNumber

# One upsert per number; a VNU older (by the number's updatedTimestamp) than what is stored does
# not overwrite it, so batches and redeliveries in any order leave the latest state.
_TABLE = VirtualNumber._meta.db_table
_UPSERT = f"""
INSERT INTO {_TABLE}
    (sub_account_id, msisdn, country_code, operational_status, reference_id, update_event_type,
     update_status, health_check_enabled, updated_at_8x8, raw_event_id, seen_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (sub_account_id, msisdn) DO UPDATE SET
    country_code = EXCLUDED.country_code, operational_status = EXCLUDED.operational_status,
    reference_id = EXCLUDED.reference_id, update_event_type = EXCLUDED.update_event_type,
    update_status = EXCLUDED.update_status, health_check_enabled = EXCLUDED.health_check_enabled,
    updated_at_8x8 = EXCLUDED.updated_at_8x8, raw_event_id = EXCLUDED.raw_event_id, seen_at = EXCLUDED.seen_at
WHERE {_TABLE}.updated_at_8x8 IS NULL
   OR EXCLUDED.updated_at_8x8 IS NULL AND EXCLUDED.raw_event_id >= {_TABLE}.raw_event_id
   OR EXCLUDED.updated_at_8x8 > {_TABLE}.updated_at_8x8
   OR EXCLUDED.updated_at_8x8 = {_TABLE}.updated_at_8x8
      AND EXCLUDED.raw_event_id >= {_TABLE}.raw_event_id
"""  # noqa: S608 - model metadata only


def record_virtual_numbers(cursor: Any, events: Iterable[tuple[int, NormalisedEvent]], now: datetime) -> None:
    """Upsert every number of these VNU events (``(raw event id, event)``), in a stable order."""
    rows = sorted(
        (
            (event.sub_account_id[:64], number.msisdn, number.country_code, number.operational_status,
             number.reference_id, event.update_event_type, number.update_status, number.health_check_enabled,
             number.updated_at, event_id, now)
            for event_id, event in events
            for number in event.virtual_numbers
        ),
        key=lambda row: (row[0], row[1], row[9]),
    )  # fmt: skip
    for row in rows:
        cursor.execute(_UPSERT, list(row))
