"""Small database helpers shared by the bulk paths and the reads every page makes."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from django.db import connection, transaction


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


def fetch_prepared(sql: str, params: Sequence[Any] = (), *, types: Sequence[str] = ()) -> list[tuple[Any, ...]]:
    """The rows of a statement run as a statement prepared on the server, with one plan for
    every value of its parameters (``$1``, ``$2`` … in ``sql``, of the PostgreSQL ``types``).

    PostgreSQL then plans it once per connection. For the reads of the partitioned raw table that
    pages make on every view (the backlog on the overview, /healthz and /metrics; a session's
    unclassified events), planning over its ~40 day partitions cost 4–8 ms on 5 M sessions where
    running took 0.2 ms. Django turns psycopg's own preparing off (it breaks connection poolers),
    and then psycopg ignores ``prepare=True``: the statement is prepared with SQL here instead and
    found again in ``pg_prepared_statements``, all in one transaction so that a transaction-mode
    pooler keeps it on one server connection (on another it is prepared there). A new or dropped
    partition makes PostgreSQL plan it again, so the answer is never stale.
    """
    signature = f"({', '.join(types)})" if types else ""
    name = "sipdesk_" + hashlib.sha256((signature + sql).encode()).hexdigest()[:24]
    arguments = f"({', '.join(['%s'] * len(params))})" if params else ""
    # No savepoint inside a caller's transaction: a read has nothing to undo.
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        # One plan for every value: a custom plan per value (PostgreSQL's first five) would plan
        # every partition again. For this transaction only.
        cursor.execute(
            "SELECT set_config('plan_cache_mode', 'force_generic_plan', true),"
            " EXISTS (SELECT FROM pg_prepared_statements WHERE name = %s)",
            [name],
        )
        if not cursor.fetchone()[1]:
            cursor.execute(f"PREPARE {name}{signature} AS {sql}")
        cursor.execute(f"EXECUTE {name}{arguments}", list(params))
        return [tuple(row) for row in cursor.fetchall()]


def fetch_one_prepared(sql: str) -> tuple[Any, ...]:
    """The row of a statement without parameters, run as a prepared statement (``fetch_prepared``)."""
    rows = fetch_prepared(sql)
    assert rows, "fetch_one_prepared needs a statement that returns a row"
    return rows[0]


# The name a Celery worker gives its PostgreSQL connection (config/celery.py): classifying workers
# count the connections of that name to split sessions between them (classify/pipeline.py).
WORKER_APPLICATION_NAME = "sipdesk-worker"
