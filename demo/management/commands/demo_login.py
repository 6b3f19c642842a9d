"""Create (or reset) the demo login for `make run`. Refuses to run outside debug/demo mode.

The password is made once and kept in var/demo-password (readable by its owner only), so the
login a person wrote down still works after the next `make run`.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create or reset the 'demo' superuser with the password kept in var/ and print it (debug only)."

    def handle(self, *args, **options) -> None:
        if not (settings.DEBUG and settings.SIPDESK_DEMO):
            raise CommandError("demo_login only runs with DJANGO_DEBUG=1 and SIPDESK_DEMO=1")
        password = _stable_password(Path(settings.BASE_DIR) / "var" / "demo-password")
        user, _ = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        banner = f"  Demo login  →  user: demo   password: {password}  "
        self.stdout.write(self.style.SUCCESS("=" * len(banner)))
        self.stdout.write(self.style.SUCCESS(banner))
        self.stdout.write(self.style.SUCCESS("=" * len(banner)))


def _stable_password(path: Path) -> str:
    if path.exists() and path.read_text().strip():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(9)
    path.touch(mode=0o600)
    path.write_text(password + "\n")
    return password
