"""Small database helpers shared by the bulk paths and the reads every page makes."""

from __future__ import annotations

from typing import Any

import psycopg
from django.db import connection


def analyze(tables: list[str], *, vacuum: bool = False) -> None:
    """ANALYZE what a bulk path touched (generate_history, import_events, reclassify, purge).

    Straight after a bulk change the planner's row estimates are wrong until autovacuum gets
    there: issue 16 measured 8 of 18 pages at 265–1,900 ms after generate_history, all within
    target after ANALYZE.

    ``vacuum``: VACUUM as well, for tables filled with new rows (generate_history). The first
    read of each new row otherwise marks it as committed and dirties its page, and no index-only
    scan can skip the table: the first view of a session page took up to 106 ms after loading a
    million sessions, 25 ms once vacuumed, as after autovacuum. Not inside a transaction (a
    test), where VACUUM cannot run: ANALYZE alone then.
    """
    if not tables:
        return
    names = ", ".join(connection.ops.quote_name(t) for t in dict.fromkeys(tables))
    with connection.cursor() as cursor:
        cursor.execute(("VACUUM (ANALYZE) " if vacuum and not connection.in_atomic_block else "ANALYZE ") + names)


def fetch_one_prepared(sql: str) -> tuple[Any, ...]:
    """The row of a statement without parameters, run as a prepared statement of this connection.

    PostgreSQL then plans it once per connection (Django's cursors bind on the client and never
    prepare). For the reads of the partitioned raw table on every overview, /healthz and
    /metrics, planning over its ~40 day partitions cost ~5 ms where running took 0.5 ms. A new or
    dropped partition invalidates the plan, so the answer is never stale.
    """
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, prepare=True)
        row = cursor.fetchone()
    assert row is not None, "fetch_one_prepared needs a statement that returns a row"
    return tuple(row)


# The name a Celery worker gives its PostgreSQL connection (config/celery.py): classifying workers
# count the connections of that name to split sessions between them (classify/pipeline.py).
WORKER_APPLICATION_NAME = "sipdesk-worker"
