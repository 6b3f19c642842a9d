"""`make run` without a PostgreSQL server starts the embedded one (scripts/embedded_db.py)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "embedded_db.py"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def embedded_env() -> Iterator[dict[str, str]]:
    # Under var/ (not /tmp/pytest-of-root, which is private): started as root, the server runs as
    # its own user and must reach its data directory.
    pgdata = ROOT / "var" / f"test-embedded-{os.getpid()}"
    env = dict(os.environ, SIPDESK_EMBEDDED_PGDATA=str(pgdata), SIPDESK_EMBEDDED_PG_PORT=str(_free_port()))
    env.pop("DATABASE_URL", None)
    yield env
    subprocess.run([sys.executable, str(SCRIPT), "stop"], env=env, check=False)  # noqa: S603
    shutil.rmtree(pgdata, ignore_errors=True)
    pgdata.with_name(pgdata.name + ".log").unlink(missing_ok=True)


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own scripts
        [sys.executable, *args], env=env, capture_output=True, text=True, check=False, timeout=120
    )


def test_embedded_postgres_starts_with_pg_trgm_and_stops(embedded_env: dict[str, str]) -> None:
    started = _run([str(SCRIPT), "start"], embedded_env)
    assert started.returncode == 0, started.stderr
    url = started.stdout.strip()
    assert url == f"postgres://postgres@127.0.0.1:{embedded_env['SIPDESK_EMBEDDED_PG_PORT']}/sipdesk"
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SHOW server_version").fetchall()[0][0].startswith("18.")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")  # the number search indexes need it

    again = _run([str(SCRIPT), "start"], embedded_env)  # a second start finds it running
    assert (again.returncode, again.stdout.strip()) == (0, url)

    assert _run([str(SCRIPT), "stop"], embedded_env).returncode == 0
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(url, connect_timeout=2)


def test_services_uses_the_embedded_postgres_when_forced(embedded_env: dict[str, str]) -> None:
    env = dict(embedded_env, SIPDESK_DB="embedded")
    decided = _run([str(ROOT / "scripts" / "services.py"), "run"], env)
    assert decided.returncode == 0, decided.stderr
    exports = dict(line.removeprefix("export ").split("=", 1) for line in decided.stdout.splitlines())
    port = embedded_env["SIPDESK_EMBEDDED_PG_PORT"]
    assert exports["DATABASE_URL"] == f"'postgres://postgres@127.0.0.1:{port}/sipdesk'"
    assert exports["SIPDESK_EMBEDDED_DB"] == "'1'"
    assert "embedded PostgreSQL" in decided.stderr


def test_services_refuses_an_unreachable_database_url_it_was_given(embedded_env: dict[str, str]) -> None:
    env = dict(embedded_env, DATABASE_URL=f"postgres://postgres@127.0.0.1:{_free_port()}/sipdesk")
    decided = _run([str(ROOT / "scripts" / "services.py"), "run"], env)
    assert decided.returncode == 1
    assert "not reachable at DATABASE_URL" in decided.stderr
