"""Webhook ingest benchmark: the production receiver under wrk, against a bare Django view.

Run by hand (not in CI), from the repository root:

    .venv/bin/python bench/ingest.py [--duration 20] [--connections 16] [--django-view]

It creates a fresh database (default ``sipdesk_bench_ingest``), migrates it, writes realistic
unique bodies from ``demo/traffic.py`` to ``var/``, then, with production settings (DEBUG
off, a webhook secret), drives with ``wrk`` (``apt-get install wrk``) and ``bench/ingest.lua``:

1. the dashboard's server (gunicorn gthread, ``config.wsgi`` through ``bench.ingest_settings``
   = production settings plus ``/bench/bare/``, a view that only parses the JSON body): the
   baseline for the ratio; with ``--django-view`` also the dashboard's own webhook view;
2. the production receiver (``gunicorn config.receiver:application -k config.receiver_worker.ReceiverWorker``, as
   docker-compose runs it) on ``/webhooks/8x8/``.

It prints accepted webhooks/s, p50/p95/p99 latency, the number of rows actually stored (zero
lost = every "stored" answer has its row), the ratio to the bare view and the workers' RSS.
See bench/INGEST.md for the figures measured on the 2-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, production_env  # noqa: E402
from demo.traffic import traffic  # noqa: E402 - pure module, no Django needed

SECRET = "bench-webhook-secret-0123456789abcdef"  # noqa: S105 - a throwaway local server
TARGET_RATE, TARGET_P99_MS, TARGET_RATIO = 2500, 30.0, 0.5


def sh(*args: str, env: dict[str, str] | None = None) -> None:
    subprocess.run(args, check=True, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)


def write_bodies(path: Path, count: int, seed: int) -> None:
    stream = traffic(random.Random(seed), start=datetime.now(UTC), sessions_per_second=400.0)
    with path.open("w") as out:
        for _ in range(count):
            out.write(json.dumps(next(stream), separators=(",", ":")) + "\n")


def wait_ready(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            request = urllib.request.Request(url, data=b"{}", headers={"Content-Type": "application/json"})  # noqa: S310
            urllib.request.urlopen(request, timeout=2).read()  # noqa: S310
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer at {url}")


def run_wrk(url: str, *, duration: int, connections: int, threads: int, bodies: Path, offset: int = 0) -> dict:
    env = dict(os.environ, BENCH_BODIES=str(bodies), BENCH_SECRET=SECRET, BENCH_THREADS=str(threads),
               BENCH_OFFSET=str(offset))  # fmt: skip
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "5s",
         "-s", str(ROOT / "bench" / "ingest.lua"), url],
        check=True, capture_output=True, text=True, env=env,
    ).stdout  # fmt: skip
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result = json.loads(line.removeprefix("RESULT "))
    result["rate"] = result["requests"] / result["seconds"]
    return result


def rss_mb(parent_pid: int) -> list[float]:
    pids = subprocess.run(["ps", "-o", "pid=", "--ppid", str(parent_pid)], capture_output=True, text=True).stdout
    sizes = []
    for pid in pids.split():
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(int(line.split()[1]) / 1024)
    return sizes


@contextlib.contextmanager
def serve(args: list[str], *, env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen]:
    """Run a gunicorn command until the block ends (SIGTERM, then wait for its graceful exit)."""
    server = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), *args], cwd=ROOT, env=env)
    try:
        wait_ready(ready_url)
        yield server
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20, help="seconds per measured run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (it shares the CPUs with the server)")
    parser.add_argument("--receiver-workers", type=int, default=2, help="receiver (ASGI) workers: one per CPU")
    parser.add_argument("--workers", type=int, default=3, help="dashboard (gthread) workers, for the bare view")
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker")
    parser.add_argument(
        "--worker-connections",
        type=int,
        default=0,
        help="gthread: most connections one worker holds (default: connections ÷ workers, rounded up)",
    )
    parser.add_argument(
        "--django-view", action="store_true", help="also measure the dashboard's own webhook view (one commit each)"
    )
    parser.add_argument("--bodies", type=int, default=200_000, help="unique bodies to generate")
    parser.add_argument("--db", default="sipdesk_bench_ingest")
    parser.add_argument("--pg", default="postgres://postgres@localhost:5432", help="server URL (no database)")
    parser.add_argument("--redis", default="redis://localhost:6379/12", help="broker for the publish-after-commit")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=2500)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if not shutil.which("wrk"):
        print("wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2

    import psycopg

    database_url = f"{args.pg}/{args.db}"
    env = production_env(
        settings_module="bench.ingest_settings", database_url=database_url, redis_url=args.redis, secret=SECRET
    )
    print(f"fresh database {args.db} …", flush=True)
    fresh_database(args.db, args.pg)
    sh(sys.executable, "manage.py", "migrate", "-v0", env=env)
    bodies = ROOT / "var" / "bench-ingest-bodies.jsonl"
    bodies.parent.mkdir(exist_ok=True)
    print(f"writing {args.bodies} realistic bodies to {bodies.relative_to(ROOT)} …", flush=True)
    write_bodies(bodies, args.bodies, args.seed)
    # Setup leaves ~250 MB of dirty pages (the bodies file, the new database); the kernel would
    # write them back during the measured runs, and every commit's WAL flush would queue behind
    # that (seen: 90–130 ms stalls of all commits at once, every few seconds). Flush them now.
    os.sync()

    base = f"http://127.0.0.1:{args.port}"
    wrk = {"duration": args.duration, "connections": args.connections, "threads": args.wrk_threads, "bodies": bodies}
    # wrk opens all its keep-alive connections at once and keeps them for the whole run; a gthread
    # worker accepts as many as it can grab, so without a cap one worker often held 12–15 of 16
    # (seen with `ss -tnp`) and the run measured one process instead of the machine: the bare
    # view swung between 1,350 and 3,170 req/s from run to run. The cap spreads them evenly.
    worker_connections = args.worker_connections or -(-args.connections // args.workers)
    dashboard = ["config.wsgi", "--bind", f"127.0.0.1:{args.port}", "--workers", str(args.workers),
                 "--worker-class", "gthread", "--threads", str(args.threads),
                 "--worker-connections", str(worker_connections), "--keep-alive", "5", "--log-level", "warning",
                 "--no-control-socket"]  # fmt: skip
    # The production receiver, as docker-compose runs it (config.receiver ignores the bench URLconf).
    receiver = ["config.receiver:application", "--bind", f"127.0.0.1:{args.port}", "--worker-class",
                "config.receiver_worker.ReceiverWorker",
                "--workers", str(args.receiver_workers), "--keep-alive", "5", "--log-level", "warning",
                "--no-control-socket"]  # fmt: skip
    results: dict[str, dict] = {}
    with serve(dashboard, env=env, ready_url=f"{base}/bench/bare/") as server:
        run_wrk(f"{base}/bench/bare/", **wrk | {"duration": 3})  # warm-up: imports, first requests
        print(f"bare Django view (gthread): {args.duration}s …", flush=True)
        results["bare Django view"] = run_wrk(f"{base}/bench/bare/", **wrk)
        if args.django_view:
            print(f"webhook via the Django view (gthread): {args.duration}s …", flush=True)
            # From the far end of the file: the receiver's run then meets no body stored by this one.
            results["Django view ingest"] = run_wrk(f"{base}/webhooks/8x8/", **wrk, offset=args.bodies * 3 // 4)
            time.sleep(1)
        dashboard_memory = rss_mb(server.pid)
    with serve(receiver, env=env, ready_url=f"{base}/healthz") as server:
        # Warm-up, like the bare view's (connections, prepared statements, WAL segments), with
        # bodies from the end of the file that the measured run does not reach.
        warm_up = run_wrk(f"{base}/webhooks/8x8/", **wrk | {"duration": 3}, offset=args.bodies * 7 // 8)
        print(f"webhook via the receiver (ASGI): {args.duration}s …", flush=True)
        results["receiver ingest"] = ingest = run_wrk(f"{base}/webhooks/8x8/", **wrk)
        time.sleep(1)  # let requests that were in flight when wrk stopped finish
        receiver_memory = rss_mb(server.pid)

    with psycopg.connect(database_url) as conn:
        rows, distinct = conn.execute("SELECT count(*), count(DISTINCT dedupe_key) FROM webhooks_rawevent").fetchall()[
            0
        ]
    if not args.keep_db:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')
    import redis

    redis.Redis.from_url(args.redis).delete("celery")  # the classify.process_pending messages we published

    bare = results["bare Django view"]
    ratio = ingest["rate"] / bare["rate"] if bare["rate"] else 0.0
    # Every "stored" answer, the receiver's warm-up included, must have its row.
    stored_answers = warm_up["stored"] + sum(r["stored"] for name, r in results.items() if name != "bare Django view")
    # wrk does not read answers to requests still in flight when it stops; those rows exist too.
    lost = stored_answers - rows
    print()
    print(f"machine: {os.cpu_count()} CPUs; receiver: gunicorn {args.receiver_workers} × asgi; dashboard: gunicorn "
          f"{args.workers} × gthread ({args.threads} threads, ≤ {worker_connections} conns); "
          f"wrk {args.wrk_threads} thread(s), {args.connections} connections, {args.duration}s per run")  # fmt: skip
    for name, r in results.items():
        print(f"{name:>18}: {r['rate']:8.0f} req/s   p50 {r['p50_ms']:6.2f} ms   p95 {r['p95_ms']:6.2f} ms   "
              f"p99 {r['p99_ms']:6.2f} ms   max {r['max_ms']:7.2f} ms   "
              f"errors {r['errors']}  non-2xx {r['non2xx']}")  # fmt: skip
    print(f"receiver answers: stored {ingest['stored']}, duplicate {ingest['duplicate']}, other {ingest['other']}")
    print(f"rows in PostgreSQL: {rows} ({distinct} distinct keys); answered-stored but missing: {max(lost, 0)}"
          f"; stored while wrk stopped: {max(rows - stored_answers, 0)}")  # fmt: skip
    print(f"ratio receiver ingest / bare Django view: {ratio:.2f}")
    print(f"RSS: receiver workers {', '.join(f'{m:.0f} MB' for m in receiver_memory)}; "
          f"dashboard workers {', '.join(f'{m:.0f} MB' for m in dashboard_memory)}")  # fmt: skip
    checks = {
        f"≥ {TARGET_RATE} webhooks/s": ingest["rate"] >= TARGET_RATE,
        f"p99 < {TARGET_P99_MS:.0f} ms": ingest["p99_ms"] < TARGET_P99_MS,
        f"≥ {TARGET_RATIO}× bare view": ratio >= TARGET_RATIO,
        "zero lost": lost <= 0 and all(r["other"] == 0 and r["errors"] == 0 for r in results.values()),
    }
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
