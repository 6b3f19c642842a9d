"""Create (or reset) the demo login for `make run`. Refuses to run outside debug/demo mode."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Create or reset the 'demo' superuser with a fresh random password and print it (debug only)."

    def handle(self, *args, **options) -> None:
        if not (settings.DEBUG and settings.SIPDESK_DEMO):
            raise CommandError("demo_login only runs with DJANGO_DEBUG=1 and SIPDESK_DEMO=1")
        password = secrets.token_urlsafe(9)
        user, _ = User.objects.get_or_create(username="demo", defaults={"email": "demo@example.com"})
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        banner = f"  Demo login  →  user: demo   password: {password}  "
        self.stdout.write(self.style.SUCCESS("=" * len(banner)))
        self.stdout.write(self.style.SUCCESS(banner))
        self.stdout.write(self.style.SUCCESS("=" * len(banner)))
