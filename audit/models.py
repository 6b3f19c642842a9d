"""What was looked up about personal data, by whom: evidence kept apart from the pages that read it."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NumberSearch(models.Model):
    """One whole-number search by a user who sees numbers masked (audit.number_search)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="number_searches")
    number = models.CharField(max_length=40)  # as typed, spaces removed
    searched_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # False: over the per-minute limit, answered 429 without searching.
    allowed = models.BooleanField()
    via = models.CharField(max_length=16)  # "page" or "csv"

    class Meta:
        ordering = ["-searched_at", "-id"]
        indexes = [models.Index(fields=["user", "-searched_at"])]

    def __str__(self) -> str:
        return f"{self.user} searched {self.number} at {self.searched_at:%Y-%m-%d %H:%M:%S}"
