"""Indexes for the sessions list's fault-side filter and whole-number search (CONCURRENTLY, as 0010)."""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("classify", "0010_session_filter_indexes"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="callleg",
            index=models.Index(fields=["source"], name="callleg_source_idx"),
        ),
        AddIndexConcurrently(
            model_name="callleg",
            index=models.Index(fields=["destination"], name="callleg_destination_idx"),
        ),
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(fields=["fault_side", "-start_time"], name="session_fault_side_idx"),
        ),
    ]
