"""Repeat deliveries counted beside a raw row a worker holds (webhooks.models.DeferredRepeat)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0003_partition_raw_events"),
    ]

    operations = [
        migrations.CreateModel(
            name="DeferredRepeat",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("event_id", models.BigIntegerField()),
                ("event_received_at", models.DateTimeField()),
                ("repeats", models.PositiveIntegerField()),
                ("delivered_at", models.DateTimeField()),
            ],
        ),
    ]
