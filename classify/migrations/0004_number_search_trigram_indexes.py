"""Trigram indexes for the sessions page's "number contains" filter (LIKE '%digits%').

PostgreSQL only: a plain B-tree cannot serve a leading wildcard, and a scan of every leg is far
too slow on a million sessions. On SQLite (the `make run` fallback) this migration does nothing.
The indexes live only here, not in the model's Meta, because they are vendor-specific.
"""

from django.db import migrations

INDEXES = {
    "callleg_source_trgm_idx": "source",
    "callleg_destination_trgm_idx": "destination",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON classify_callleg USING gin ({column} gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("classify", "0003_drop_redundant_session_indexes")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
