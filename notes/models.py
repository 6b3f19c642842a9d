"""Support engineers' notes on sessions.

Keyed by 8x8's session id (text), not by a foreign key: ``reclassify`` deletes and rebuilds
``classify.Session`` rows, and a note must outlive that. Append-only: a correction is a new note.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NoteLabel(models.TextChoices):
    NOTE = "note", "Note"
    CUSTOMER_INFORMED = "customer_informed", "Customer informed"
    ESCALATED = "escalated", "Escalated to 8x8"
    INVESTIGATING = "investigating", "Investigating"
    KNOWN_ISSUE = "known_issue", "Known issue"
    NO_ACTION = "no_action", "No action needed"


class SessionNoteQuerySet(models.QuerySet):
    def for_session(self, session_id: str) -> SessionNoteQuerySet:
        return self.filter(session_id=session_id).select_related("author").order_by("created_at", "id")


class AppendOnlyError(Exception):
    """Notes are a record of what was said and done: they are never edited in place."""


class SessionNote(models.Model):
    session_id = models.CharField(max_length=64, db_index=True)  # 8x8's sessionId
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    label = models.CharField(max_length=24, choices=NoteLabel.choices, default=NoteLabel.NOTE)
    text = models.TextField(max_length=5000)
    ticket = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = SessionNoteQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["label", "session_id"], name="sessionnote_label_idx")]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.get_label_display()}"

    def save(self, *args, **kwargs) -> None:
        if self.pk is not None:
            raise AppendOnlyError("session notes are append-only")
        super().save(*args, **kwargs)
