"""An index of the raw events not classified yet (pending or failed) by session id.

The session page reads a session's classified events from the day partitions its received times
span (classify 0014) and its unclassified ones through this index: partial, so a few pages per
partition that every page view reads and that stay in memory, instead of a lookup in the full
session_id index of each of the ~40 partitions for every session looked at.

A partitioned table cannot be indexed CONCURRENTLY, so the index is made on the parent alone
(invalid until complete), concurrently on each partition, and each is attached: writes go on
meanwhile. Partitions made later get it from the parent.
"""

from __future__ import annotations

from django.db import migrations, models
from django.db.models import Q

TABLE = "webhooks_rawevent"
INDEX = "rawevent_unprocessed_idx"
CONDITION = "NOT (state = 'processed')"  # as Django writes ~Q(state="processed"), so queries match it


def create(apps, schema_editor) -> None:
    quote = schema_editor.quote_name
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON ONLY {TABLE} (session_id) WHERE {CONDITION}")
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [TABLE],
        )
        for (partition,) in cursor.fetchall():
            child = f"{partition}_unprocessed_idx"
            # A concurrent build that was interrupted leaves an invalid index behind: build it again.
            cursor.execute(
                "SELECT NOT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.relname = %s AND c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = %s::regclass)",
                [child, TABLE],
            )
            invalid = cursor.fetchone()
            if invalid and invalid[0]:
                cursor.execute(f"DROP INDEX CONCURRENTLY {quote(child)}")
            cursor.execute(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {quote(child)} ON {quote(partition)} (session_id) WHERE {CONDITION}"
            )
            cursor.execute(
                "SELECT 1 FROM pg_inherits WHERE inhparent = %s::regclass AND inhrelid = %s::regclass",
                [INDEX, child],
            )
            if cursor.fetchone() is None:
                cursor.execute(f"ALTER INDEX {INDEX} ATTACH PARTITION {quote(child)}")


def drop(apps, schema_editor) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(f"DROP INDEX IF EXISTS {INDEX}")  # and its partitions'


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("webhooks", "0004_deferred_repeats"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddIndex(
                    model_name="rawevent",
                    index=models.Index(fields=["session_id"], condition=~Q(state="processed"), name=INDEX),
                ),
            ],
            database_operations=[migrations.RunPython(create, drop)],
        ),
    ]
