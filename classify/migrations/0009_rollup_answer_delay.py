"""Session rollups gain the answer delay of their answered sessions (sum in ms and how many), so
the KPI pages read an average answer delay over any window without touching the legs.

Backfilled HERE: every session rollup is rewritten from the sessions and legs (minute buckets
for the retained two days, hour buckets for all time), the way ``classify.pipeline`` computes
them. ``manage.py reclassify`` is not needed.
"""

from __future__ import annotations

from django.db import migrations, models

REBUILD_ROLLUPS = """
DELETE FROM classify_sessionrollup;
INSERT INTO classify_sessionrollup
    (bucket_size, bucket_start, sub_account_id, product, status, outcome_group, fault_side,
     destination_country, direction, primary_sip_code, error_code, count, answered_seconds,
     answer_delay_ms, answer_delay_count)
SELECT size, date_trunc(size, s.rollup_at), s.sub_account_id, s.product, s.status, s.outcome_group,
       s.fault_side, s.destination_country, s.direction, s.primary_sip_code, s.error_code, count(*),
       coalesce(sum(s.duration_seconds) FILTER (WHERE s.outcome_group = 'answered'), 0),
       coalesce(sum(d.ms) FILTER (WHERE d.ms >= 0), 0), count(d.ms) FILTER (WHERE d.ms >= 0)
FROM classify_session s
CROSS JOIN (VALUES ('minute'), ('hour')) AS sizes(size)
LEFT JOIN LATERAL (
    SELECT extract(epoch FROM min(l.connected_at) - min(l.initiated_at)) * 1000 AS ms
    FROM classify_callleg l WHERE l.session_id = s.id AND s.outcome_group = 'answered') d ON true
WHERE s.rollup_at IS NOT NULL
  AND (size = 'hour' OR s.rollup_at >= date_trunc('hour', now() - interval '2 days'))
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11
ORDER BY 1, 2;  -- in bucket order, as the pipeline writes them: a window's rows sit together
"""


def backfill(apps, schema_editor) -> None:
    # The SQLite fallback of `make run` never classifies (PostgreSQL-only SQL): nothing to fill.
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(REBUILD_ROLLUPS)


class Migration(migrations.Migration):
    dependencies = [
        ("classify", "0008_callleg_unique_per_session"),
    ]

    operations = [
        migrations.AddField(
            model_name="sessionrollup",
            name="answer_delay_ms",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="sessionrollup",
            name="answer_delay_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
