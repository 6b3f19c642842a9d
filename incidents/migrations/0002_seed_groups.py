"""Give Support the incident and note permissions; create "Incident managers" (incidents/seed.py)."""

from django.db import migrations


def seed(apps, schema_editor):
    from incidents.seed import seed_incident_groups

    seed_incident_groups(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("incidents", "0001_initial"),
        ("notes", "0001_initial"),
        ("reference", "0003_seed_groups"),
    ]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
