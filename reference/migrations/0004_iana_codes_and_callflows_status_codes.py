"""The SIP codes of the IANA registry the 8x8 document lacks, and 8x8's Callflows API status codes
(reference/seed.py IANA_SIP_CODES, CALLFLOWS_STATUS_CODES). Additive: an existing row (an admin
may have added 607 already) is never overwritten. The reverse deletes these rows by key."""

from django.db import migrations


def seed(apps, schema_editor):
    from reference.seed import seed_complete_reference

    seed_complete_reference(apps, schema_editor.connection.alias)


def unseed(apps, schema_editor):
    from reference.seed import unseed_complete_reference

    unseed_complete_reference(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("reference", "0003_seed_groups")]

    operations = [migrations.RunPython(seed, unseed)]
