"""Seed the reference tables from the 8x8 documents (reference/seed.py).

Idempotent and additive: only rows whose natural key is missing are created, so re-running never
overwrites an admin's edit. The reverse deletes the seeded rows by key.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from reference.seed import seed_reference

    seed_reference(apps, schema_editor.connection.alias)


def unseed(apps, schema_editor):
    from reference.seed import unseed_reference

    unseed_reference(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("reference", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
