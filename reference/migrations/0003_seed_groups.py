"""Create the "Reference editors" and "Support" groups with their permissions (reference/seed.py).

Depends on the first migration of every app whose permissions the groups hold. On a fresh database
post_migrate has not created any permission yet, so seed_groups creates them first.
"""

from django.db import migrations


def seed(apps, schema_editor):
    from reference.seed import seed_groups

    seed_groups(apps, schema_editor.connection.alias)


def unseed(apps, schema_editor):
    from reference.seed import unseed_groups

    unseed_groups(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("reference", "0002_seed_reference"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("webhooks", "0001_initial"),
        ("classify", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(seed, unseed),
    ]
