"""The SIP codes of the IANA registry the 8x8 document lacks, and 8x8's Callflows API status codes
(reference/seed.py IANA_SIP_CODES, CALLFLOWS_STATUS_CODES). Additive: an existing row (an admin
may have added 607 already) is never overwritten. The leg ERROR status's description is updated
(ERROR on a leg is normal outside IVR) unless an admin edited it. The reverse deletes these rows
by key."""

from django.db import migrations


def seed(apps, schema_editor):
    from reference.seed import LEG_ERROR_NEW, LEG_ERROR_OLD, seed_complete_reference, update_leg_error_text

    seed_complete_reference(apps, schema_editor.connection.alias)
    update_leg_error_text(apps, schema_editor.connection.alias, LEG_ERROR_OLD, LEG_ERROR_NEW)


def unseed(apps, schema_editor):
    from reference.seed import LEG_ERROR_NEW, LEG_ERROR_OLD, unseed_complete_reference, update_leg_error_text

    update_leg_error_text(apps, schema_editor.connection.alias, LEG_ERROR_NEW, LEG_ERROR_OLD)
    unseed_complete_reference(apps, schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [("reference", "0003_seed_groups")]

    operations = [migrations.RunPython(seed, unseed)]
