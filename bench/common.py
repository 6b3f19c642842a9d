"""Helpers the benchmarks share: a fresh database, production-like settings, percentiles."""

from __future__ import annotations

import os


def fresh_database(name: str, server: str) -> None:
    """Drop and create ``name`` on the PostgreSQL server at ``server`` (a URL without database)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def production_env(*, settings_module: str, database_url: str, redis_url: str, secret: str) -> dict[str, str]:
    """The environment of a production deployment (DEBUG off, a webhook secret), minus TLS."""
    return dict(
        os.environ,
        DJANGO_SETTINGS_MODULE=settings_module,
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="bench-secret-key-" + "x" * 40,
        DJANGO_SECURE_SSL_REDIRECT="0",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        DJANGO_LOG_LEVEL="WARNING",
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        SIPDESK_WEBHOOK_SECRETS=secret,
    )


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.95 for p95); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
