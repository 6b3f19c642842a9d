"""``manage.py alerts load FILE.yaml`` / ``manage.py alerts export [--with-secrets]`` (alerts/provisioning.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts import provisioning


class Command(BaseCommand):
    help = "Provision alert rules and channels from YAML (load, idempotent by name) or print them (export)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        load = sub.add_parser("load", help="create or update the file's channels and rules, by name")
        load.add_argument("file")
        export = sub.add_parser("export", help="print every channel and rule as YAML")
        export.add_argument("--with-secrets", action="store_true", help="include channel URLs stored in the database")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "export":
            data = provisioning.export(with_secrets=options["with_secrets"])
            self.stdout.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
            return
        path = Path(options["file"])
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, yaml.YAMLError) as exc:  # ValueError: bad UTF-8, or a date like 2026-13-45
            raise CommandError(f"cannot read {path}: {exc}") from None
        try:
            changes = provisioning.load(data)
        except provisioning.ProvisioningError as exc:
            raise CommandError(f"{path}: {exc} (nothing was changed)") from None
        for line in changes:
            self.stdout.write(line)
        self.stdout.write(f"{len(changes)} change{'s' if len(changes) != 1 else ''}")
