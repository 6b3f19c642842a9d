"""Check (and prepare) the services sipdesk needs; used by `make run` and `make test`.

Prints shell `export` lines so the calling script can adopt the decisions:
- PostgreSQL reachable at DATABASE_URL (default: local) → create the database if missing;
- otherwise, for `run` only and when DATABASE_URL was not set, start the embedded PostgreSQL
  (scripts/embedded_db.py) under var/ and use it; SIPDESK_DB=embedded forces it;
- Redis reachable at REDIS_URL → use it; otherwise, for `run` only, run tasks in-process.
`test` never falls back: the suite runs against real PostgreSQL and Redis or not at all.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_DATABASE_URL = "postgres://postgres@localhost:5432/sipdesk"
DEFAULT_REDIS_URL = "redis://localhost:6379/0"


def say(message: str) -> None:
    print(message, file=sys.stderr)


def postgres_ready(url: str) -> str | None:
    """None when the database is reachable (created if missing), else the reason."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    db_name = parts.path.lstrip("/")
    conninfo: dict[str, Any] = {
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "user": parts.username or "postgres",
        "password": parts.password or None,
        "connect_timeout": 3,
    }
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **conninfo) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db_name)))
                say(f"sipdesk: created PostgreSQL database {db_name!r}")
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return None


def redis_ready(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "localhost", parts.port or 6379), timeout=2) as sock:
            sock.sendall(b"PING\r\n")
            if not sock.recv(64).startswith(b"+PONG"):
                return "unexpected answer to PING"
    except OSError as exc:
        return str(exc)
    return None


def start_embedded_postgres() -> str | None:
    """The embedded server's DATABASE_URL, or None when it could not start (it says why)."""
    script = Path(__file__).with_name("embedded_db.py")
    started = subprocess.run([sys.executable, str(script), "start"], capture_output=True, text=True, check=False)
    sys.stderr.write(started.stderr)
    return started.stdout.strip() if started.returncode == 0 else None


def main(mode: str) -> int:
    explicit_url = os.environ.get("DATABASE_URL", "")
    database_url = explicit_url or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("REDIS_URL", DEFAULT_REDIS_URL)
    exports = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SIPDESK_EMBEDDED_DB": "0"}

    forced = os.environ.get("SIPDESK_DB", "") == "embedded"
    pg_problem = None if forced and mode != "test" else postgres_ready(database_url)
    redis_problem = redis_ready(redis_url)

    if mode == "test":
        missing = []
        if pg_problem:
            missing.append(f"PostgreSQL at {database_url}: {pg_problem}")
        if redis_problem:
            missing.append(f"Redis at {redis_url}: {redis_problem}")
        if missing:
            say("sipdesk tests need real PostgreSQL and Redis, and these are not reachable:")
            for line in missing:
                say(f"  - {line}")
            say("Start them (or set DATABASE_URL / REDIS_URL), or run .ci/run, which installs and starts both.")
            return 1
    else:
        if forced or (pg_problem and not explicit_url):
            if pg_problem:
                say(f"sipdesk: no PostgreSQL at {database_url} ({pg_problem}).")
            say("sipdesk: starting the embedded PostgreSQL in var/postgres (stopped again on Ctrl-C).")
            embedded_url = start_embedded_postgres()
            if embedded_url is None:
                return 1
            exports["DATABASE_URL"] = embedded_url
            exports["SIPDESK_EMBEDDED_DB"] = "1"
        elif pg_problem:
            say(f"sipdesk: PostgreSQL not reachable at DATABASE_URL={database_url} ({pg_problem}).")
            say("sipdesk: start it, unset DATABASE_URL to use the embedded PostgreSQL, or set SIPDESK_DB=embedded.")
            return 1
        if redis_problem:
            say(f"sipdesk: Redis not reachable ({redis_problem}).")
            say("sipdesk: NO CELERY WORKER — classification runs inside the web process (SIPDESK_TASKS_EAGER=1).")
            exports["SIPDESK_TASKS_EAGER"] = "1"
        else:
            exports["SIPDESK_TASKS_EAGER"] = "0"

    for key, value in exports.items():
        print(f"export {key}='{value}'")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "run"))
