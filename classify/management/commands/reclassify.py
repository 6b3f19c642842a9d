"""``manage.py reclassify [--since ISO]``: rebuild sessions, legs, classifications and rollups
from the stored raw events (the source of truth), e.g. after an admin edited the reference.

Sessions with an event received since ``--since`` (all sessions without it) are deleted with
their legs and classifications, all their raw events are marked pending again, and the normal
pipeline processes them batch by batch, so the result is exactly what the live pipeline
produces. Running it twice changes nothing.
"""

from __future__ import annotations

import sys
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils.dateparse import parse_datetime
from tqdm import tqdm

from classify import pipeline, rollups, tasks
from classify.models import CallLeg, CodeRollup, EventClassification, Session, SessionRollup
from config.db import analyze
from webhooks.models import EventState, RawEvent


class Command(BaseCommand):
    help = "Re-derive sessions, legs, event classifications and rollups from stored raw events."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="only sessions with an event received at or after this ISO 8601 time")
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, since: str | None = None, batch_size: int | None = None, **options) -> None:
        if batch_size is not None and batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        since_at = self._parse(since) if since else None
        total = self._reset(since_at)
        self.stdout.write(f"Reclassifying {total} raw events…")
        done = 0
        with tqdm(total=total, unit="ev", disable=not sys.stderr.isatty()) as bar:
            while taken := pipeline.process_pending(batch_size):
                done += taken
                bar.update(taken)
        flagged = tasks.flag_missing_summary_sessions()
        analyze(
            [m._meta.db_table for m in (RawEvent, EventClassification, Session, CallLeg, SessionRollup, CodeRollup)]
        )
        self.stdout.write(self.style.SUCCESS(f"Reclassified {done} events ({flagged} sessions awaiting a summary)."))

    def _parse(self, value: str) -> datetime:
        try:  # a well-formed impossible time ("2026-13-45T00:00") raises rather than giving None
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
        if parsed is None:
            raise CommandError(f"--since {value!r} is not an ISO 8601 date-time")
        if parsed.tzinfo is None:
            from datetime import UTC

            parsed = parsed.replace(tzinfo=UTC)
        return parsed

    @transaction.atomic
    def _reset(self, since: datetime | None) -> int:
        if since is None:
            EventClassification.objects.all().delete()
            Session.objects.all().delete()  # legs cascade
            SessionRollup.objects.all().delete()
            CodeRollup.objects.all().delete()
            return RawEvent.objects.update(state=EventState.PENDING)
        recent = RawEvent.objects.filter(received_at__gte=since)
        session_ids = set(recent.exclude(session_id="").values_list("session_id", flat=True).distinct())
        events = RawEvent.objects.filter(session_id__in=session_ids) | recent
        # What the sessions and verdicts about to go counted leaves the rollups with them; the
        # batches add them back as they are derived again (classify/rollups.py ``count_batch``).
        rollups.count_batch(sorted(session_ids), list(events.values_list("id", flat=True)), sign=-1)
        rollups.apply_batch()
        EventClassification.objects.filter(event__in=events).delete()
        EventClassification.objects.filter(session__session_id__in=session_ids).delete()
        Session.objects.filter(session_id__in=session_ids).delete()
        return events.update(state=EventState.PENDING)
