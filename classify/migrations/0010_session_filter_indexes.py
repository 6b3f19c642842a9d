"""Indexes for the sessions list's country filter and the product signals' counts.

Built CONCURRENTLY: on a database with millions of sessions a plain CREATE INDEX would hold
back the workers' writes for as long as it takes.
"""

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("classify", "0009_rollup_answer_delay"),
    ]

    operations = [
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(fields=["destination_country", "-start_time"], name="session_country_idx"),
        ),
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(
                condition=models.Q(("product", "UNKNOWN")), fields=["rollup_at"], name="session_unknown_product_idx"
            ),
        ),
        AddIndexConcurrently(
            model_name="session",
            index=models.Index(
                condition=models.Q(("anomalies__contains", ["recording_failed"])),
                fields=["rollup_at"],
                name="session_recording_failed_idx",
            ),
        ),
    ]
