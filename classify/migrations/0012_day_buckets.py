"""Day rollup buckets (classify/rollups.py): each day row is the sum of its hour rows, filled
here from the hours an existing database already holds (one pass over the hour rows)."""

from django.db import migrations, models

_SIZES = [("minute", "Minute"), ("hour", "Hour"), ("day", "Day")]

# Written out rather than taken from classify/rollups.py: a migration must keep doing what it
# did when the module changes.
_SESSION_DAYS = """
    INSERT INTO classify_sessionrollup
        (bucket_size, bucket_start, sub_account_id, product, status, outcome_group, fault_side,
         destination_country, direction, primary_sip_code, error_code, count, answered_seconds,
         answer_delay_ms, answer_delay_count)
    SELECT 'day', date_trunc('day', bucket_start, 'UTC'), sub_account_id, product, status,
           max(outcome_group), fault_side, destination_country, direction, primary_sip_code, error_code,
           sum(count), sum(answered_seconds), sum(answer_delay_ms), sum(answer_delay_count)
    FROM classify_sessionrollup WHERE bucket_size = 'hour'
    GROUP BY 2, 3, 4, 5, 7, 8, 9, 10, 11
    ORDER BY 2
"""
_CODE_DAYS = """
    INSERT INTO classify_coderollup
        (bucket_size, bucket_start, sip_code, sip_class, direction, destination_country, sub_account_id, count)
    SELECT 'day', date_trunc('day', bucket_start, 'UTC'), sip_code, max(sip_class), direction,
           destination_country, sub_account_id, sum(count)
    FROM classify_coderollup WHERE bucket_size = 'hour'
    GROUP BY 2, 3, 5, 6, 7
    ORDER BY 2
"""
_NO_DAYS = "DELETE FROM {} WHERE bucket_size = 'day'"


class Migration(migrations.Migration):
    dependencies = [
        ("classify", "0011_list_filter_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="coderollup",
            name="bucket_size",
            field=models.CharField(choices=_SIZES, max_length=8),
        ),
        migrations.AlterField(
            model_name="sessionrollup",
            name="bucket_size",
            field=models.CharField(choices=_SIZES, max_length=8),
        ),
        migrations.RunSQL(_SESSION_DAYS, _NO_DAYS.format("classify_sessionrollup")),
        migrations.RunSQL(_CODE_DAYS, _NO_DAYS.format("classify_coderollup")),
        # The planner should know about the new rows at once (README "Performance").
        migrations.RunSQL("ANALYZE classify_sessionrollup, classify_coderollup", migrations.RunSQL.noop),
    ]
