"""When each session's first and last events were received, so the session page reads only the
day partitions of raw events that hold them (dashboard/reads/session.py).

Adding a column with no default rewrites nothing. Sessions classified before this migration keep
them unset and their page looks in every partition, as it did; nothing is back-filled, because
their raw events expire within SIPDESK_RAW_RETENTION_DAYS anyway.
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('classify', '0013_number_search_by_week'),
    ]

    operations = [
        migrations.AddField(
            model_name='session',
            name='first_received_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name='session',
            name='last_received_at',
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
