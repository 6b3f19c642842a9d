"""Replay stored webhook bodies (one JSON object per line) through the receiver's own code path."""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from config.db import analyze
from webhooks import enqueue
from webhooks.ingest import ingest

_SHOWN_BAD_LINES = 20


class Command(BaseCommand):
    help = "Feed a JSONL file of webhook bodies (or - for stdin) through ingest(): same parsing and dedupe as the view."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help="path to a .jsonl file, or - to read standard input")

    def handle(self, *args: Any, file: str, **options: Any) -> None:
        if file == "-":
            stream = sys.stdin.buffer
        else:
            try:
                stream = open(file, "rb")  # noqa: SIM115 - closed below; bytes, so invalid UTF-8 is reported, not fatal
            except OSError as exc:
                raise CommandError(f"cannot open {file}: {exc.strerror}") from None
        counts: Counter[str] = Counter()
        rejected: Counter[str] = Counter()
        bad_lines: list[str] = []
        try:
            lines = tqdm(stream, unit=" lines", disable=not sys.stderr.isatty(), file=sys.stderr)
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                result = ingest(line.rstrip(b"\r\n"), remote_addr=None, user_agent="import_events", tally=False)
                if result.http_status == 503:
                    raise CommandError(
                        f"line {number}: database unavailable ({result.reason}); stopped, re-run to resume"
                    )
                counts[result.status] += 1
                if result.status == "refused":
                    rejected[result.reason] += 1
                    if len(bad_lines) < _SHOWN_BAD_LINES:
                        bad_lines.append(
                            f"line {number}: {result.reason}" + (f" ({result.detail})" if result.detail else "")
                        )
        finally:
            if stream is not sys.stdin.buffer:
                stream.close()
            enqueue.flush()  # the background publisher may not get to run before the process exits
        if counts["stored"] or counts["duplicate"]:
            analyze(["webhooks_rawevent", "webhooks_dedupekey"])
        for message in bad_lines:
            self.stderr.write(message)
        if counts["refused"] > len(bad_lines):
            self.stderr.write(f"… and {counts['refused'] - len(bad_lines)} more rejected lines")
        reasons = ", ".join(f"{reason} {n}" for reason, n in rejected.most_common())
        self.stdout.write(
            f"stored {counts['stored']}, duplicate {counts['duplicate']}, rejected {counts['refused']}"
            + (f" ({reasons})" if reasons else "")
        )
