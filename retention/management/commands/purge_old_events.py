"""Run the retention job now (beat runs it hourly): partitions ahead, expired data removed."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from retention.purge import purge


class Command(BaseCommand):
    help = "Drop expired raw-event partitions and remove sessions, keys and hour rollups past retention."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="say what would be removed; change nothing")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        report = purge(dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
