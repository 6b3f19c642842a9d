"""Rollups gain fault side, destination country, direction, primary SIP code, 8x8 error code and
answered seconds (what alerts and KPIs read); sessions gain destination country and direction.

Backfilled HERE, from the existing rows: each session's country and direction from its legs
(the same choice ``classify.rules.derive_session`` makes), then every session rollup rewritten
from the sessions (minute buckets for the retained two days, hour buckets for all time), the
way ``classify.pipeline`` computes them. ``manage.py reclassify`` is not needed.
"""

from __future__ import annotations

from django.db import migrations, models

BACKFILL_SESSIONS = """
UPDATE classify_session s SET
  destination_country = coalesce((
    SELECT l.destination_country FROM classify_callleg l
    WHERE l.session_id = s.id AND l.destination_country <> ''
    ORDER BY l.initiated_at DESC NULLS FIRST, l.leg_key DESC, l.call_id DESC LIMIT 1), ''),
  direction = coalesce((
    SELECT l.direction FROM classify_callleg l
    WHERE l.session_id = s.id AND l.direction <> ''
    ORDER BY l.initiated_at ASC NULLS LAST, l.leg_key, l.call_id LIMIT 1), '')
WHERE EXISTS (SELECT 1 FROM classify_callleg l WHERE l.session_id = s.id)
"""

REBUILD_ROLLUPS = """
DELETE FROM classify_sessionrollup;
INSERT INTO classify_sessionrollup
    (bucket_size, bucket_start, sub_account_id, product, status, outcome_group, fault_side,
     destination_country, direction, primary_sip_code, error_code, count, answered_seconds)
SELECT size, date_trunc(size, s.rollup_at), s.sub_account_id, s.product, s.status, s.outcome_group,
       s.fault_side, s.destination_country, s.direction, s.primary_sip_code, s.error_code, count(*),
       coalesce(sum(s.duration_seconds) FILTER (WHERE s.outcome_group = 'answered'), 0)
FROM classify_session s
CROSS JOIN (VALUES ('minute'), ('hour')) AS sizes(size)
WHERE s.rollup_at IS NOT NULL
  AND (size = 'hour' OR s.rollup_at >= date_trunc('hour', now() - interval '2 days'))
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11;
"""



def backfill(apps, schema_editor) -> None:
    # The SQLite fallback of `make run` never classifies (PostgreSQL-only SQL): nothing to fill.
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(BACKFILL_SESSIONS)
        cursor.execute(REBUILD_ROLLUPS)


class Migration(migrations.Migration):

    dependencies = [
        ('classify', '0006_product_reason_three_fault_sides'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='sessionrollup',
            name='unique_session_rollup',
        ),
        migrations.AddField(
            model_name='session',
            name='destination_country',
            field=models.CharField(blank=True, max_length=8),
        ),
        migrations.AddField(
            model_name='session',
            name='direction',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='answered_seconds',
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='destination_country',
            field=models.CharField(blank=True, max_length=8),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='direction',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='error_code',
            field=models.IntegerField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='fault_side',
            field=models.CharField(blank=True, max_length=16),
        ),
        migrations.AddField(
            model_name='sessionrollup',
            name='primary_sip_code',
            field=models.SmallIntegerField(blank=True, null=True),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='sessionrollup',
            index=models.Index(fields=['sub_account_id', 'bucket_size', 'bucket_start'], name='sessionrollup_sub_idx'),
        ),
        migrations.AddConstraint(
            model_name='sessionrollup',
            constraint=models.UniqueConstraint(fields=('bucket_size', 'bucket_start', 'sub_account_id', 'product', 'status', 'fault_side', 'destination_country', 'direction', 'primary_sip_code', 'error_code'), name='unique_session_rollup', nulls_distinct=False),
        ),
    ]
