"""Sessions say why they have their product (issue 10), and the fault side is three-way (docs/design.md §5.5).

The old "platform" side is split into "network" and "configuration" here, from each session's
primary cause, with the lists of classify/rules.py ``fault_side`` as they stand (copied, so this
migration does not change when the rules do). Codes that used to decide nothing (408, 410, 485,
604, 606, 607, 608) are assigned too. ``product_reason`` is filled in by the classifier; run
``manage.py reclassify`` once after upgrading to fill it for old sessions.
"""

from django.db import migrations, models

CUSTOMER = (486, 480, 487, 603, 600)
CONFIGURATION = (400, 401, 403, 404, 407, 410, 484, 485, 488, 604, 606)
NETWORK = (408, 607, 608)
CONFIGURATION_ERRORS = (-2003, -2006, -2007, -2008, -2009, -2010, *range(-1020, -1000))

SPLIT = f"""
UPDATE classify_session SET fault_side = CASE
    WHEN primary_cause_kind = 'sip' AND primary_sip_code IN {CUSTOMER} THEN 'customer'
    WHEN primary_cause_kind = 'sip' AND primary_sip_code IN {CONFIGURATION} THEN 'configuration'
    WHEN primary_cause_kind = 'sip' AND (primary_sip_code IN {NETWORK} OR primary_sip_code BETWEEN 500 AND 599)
        THEN 'network'
    WHEN primary_cause_kind = 'error_code' AND error_code IN {CONFIGURATION_ERRORS} THEN 'configuration'
    WHEN primary_cause_kind = 'error_code' THEN 'network'
    WHEN primary_cause_kind = 'status' AND status IN ('FAILED', 'ERROR', 'COMPLETED_UNSUB_ERROR') THEN 'network'
    ELSE fault_side END
WHERE fault_side IN ('platform', 'none') OR status = 'COMPLETED_UNSUB_ERROR'
"""
MERGE = "UPDATE classify_session SET fault_side = 'platform' WHERE fault_side IN ('network', 'configuration')"


class Migration(migrations.Migration):
    dependencies = [
        ("classify", "0005_classification_without_db_constraints"),
    ]

    operations = [
        migrations.AddField(
            model_name="session",
            name="product_reason",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AlterField(
            model_name="session",
            name="fault_side",
            field=models.CharField(
                choices=[
                    ("customer", "Customer behaviour"),
                    ("network", "Network / platform"),
                    ("configuration", "Configuration"),
                    ("none", "No fault"),
                ],
                default="none",
                max_length=16,
            ),
        ),
        migrations.RunSQL(SPLIT, MERGE),
    ]
