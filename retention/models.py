from __future__ import annotations

from django.db import models


class SizeSample(models.Model):
    """The database's size once a day (written by the retention job): the disk guard's trend."""

    day = models.DateField(primary_key=True)
    database_bytes = models.BigIntegerField()
    raw_bytes = models.BigIntegerField()  # all raw partitions, for the README's curve and the guard

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day} {self.database_bytes / 1e9:.2f} GB"
