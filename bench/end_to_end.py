"""End to end: webhooks offered at a fixed rate through gunicorn, classified by one Celery worker.

Run by hand (not in CI), from the repository root:

    .venv/bin/python bench/end_to_end.py [--rate 1000] [--duration 60]

It creates a fresh database (default ``bench_e2e``), migrates it, starts the webhook receiver
with production settings (DEBUG off, a secret key and a webhook secret; by default the same
command line as docker-compose's ``receiver``, ``gunicorn config.receiver:application -k
config.receiver_worker.ReceiverWorker``;
``--server django`` for the dashboard's own webhook view instead) and one Celery worker process
(``--concurrency 1``), then POSTs realistic bodies
(``demo.traffic.session_events`` with 2 % duplicate and 5 % out-of-order deliveries; each
session's events spread over a few seconds, interleaved with other sessions') to
``/webhooks/8x8/`` with ``Authorization: Bearer <secret>`` at ``--rate`` per second for
``--duration`` seconds. The client is asyncio on raw HTTP/1.1 connections, paced by a clock: a
slow answer never lowers the offered rate (requests queue up instead).

When the offer ends it waits for the backlog to drain and prints:

- the offered and answered rate, the answers (stored / duplicate / other) and their latency;
- classification lag, ``processed_at − received_at`` over every event, p50/p95/p99/max;
  ``processed_at`` is stamped when the worker claims the batch, so it also prints the
  *visible* lag: until the batch committed (a poller watches the pending rows every 50 ms);
- exactly-once checks: one stored row per "stored" answer, every delivery counted once
  (``sum(deliveries)`` = stored + duplicate answers), no row pending or failed, one
  classification per event, and rollups that add up to the sessions and final codes stored.

Targets (docs/design.md §11, 2-core machine): lag p95 < 2 s at 1,000 webhooks/s, nothing lost or counted
twice. The Redis database given by ``--redis`` is used as the broker; its Celery queue is
cleared before the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database, percentile, production_env  # noqa: E402
from demo.traffic import deliveries, session_events  # noqa: E402 - pure module, no Django needed

SECRET = "bench-e2e-webhook-secret-0123456789abcdef"  # noqa: S105 - a throwaway local server
TARGET_P95_S = 2.0
SESSION_SPAN_S = 5.0  # a session's deliveries are spread over this many seconds of the run
POLL_S = 0.05


# --- the offered traffic ------------------------------------------------------------------


def schedule(rate: int, duration: int, seed: int) -> list[bytes]:
    """``rate × duration`` serialised bodies in delivery order.

    Sessions start at random (Poisson) moments; each one's deliveries are spread evenly over
    ``SESSION_SPAN_S`` so that they interleave with other sessions' and a session's events land
    in different classification batches, as in real traffic. The k-th body is sent at k / rate.
    """
    rng = random.Random(seed)
    wanted = rate * duration
    sessions_per_second = rate / 6.0  # about six deliveries per session
    start = datetime.now(UTC)
    timeline: list[tuple[float, int, bytes]] = []
    at = 0.0
    while at < duration + SESSION_SPAN_S:
        bodies = deliveries(
            rng, session_events(rng, start=start + timedelta(seconds=at)), duplicates=0.02, out_of_order=0.05
        )
        step = SESSION_SPAN_S / max(len(bodies) - 1, 1)
        for i, body in enumerate(bodies):
            timeline.append((at + i * step, len(timeline), json.dumps(body, separators=(",", ":")).encode()))
        at += rng.expovariate(sessions_per_second)
    timeline.sort()
    return [body for _, _, body in timeline[:wanted]]


class Client:
    """Paced HTTP/1.1 POSTs over a pool of raw asyncio connections (keep-alive when offered)."""

    def __init__(self, host: str, port: int, path: str, connections: int) -> None:
        self.host, self.port, self.path, self.connections = host, port, path, connections
        self.answers: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.late: list[float] = []  # how far behind schedule each request was sent
        self.errors = 0

    def _request(self, body: bytes) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {SECRET}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def _worker(self, queue: asyncio.Queue) -> None:
        reader = writer = None
        while True:
            item = await queue.get()
            if item is None:
                break
            body, due = item
            started = time.monotonic()
            self.late.append(started - due)
            for attempt in range(2):  # a kept-alive connection may have been closed by the server
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection(self.host, self.port)
                    writer.write(self._request(body))
                    assert reader is not None  # opened together with the writer
                    status, close, payload = await self._response(reader)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer = None
                    if attempt:
                        self.errors += 1
                        status, close, payload = 0, True, b""
            self.latencies.append(time.monotonic() - started)
            self.answers[self._answer(status, payload)] += 1
            if close and writer is not None:
                writer.close()
                writer = None
        if writer is not None:
            writer.close()

    @staticmethod
    async def _response(reader: asyncio.StreamReader) -> tuple[int, bool, bytes]:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(head[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in head[1:] if line)}
        payload = await reader.readexactly(int(headers.get("content-length", "0")))
        close = headers.get("connection", "").lower() == "close" or head[0].startswith("HTTP/1.0")
        return status, close, payload

    @staticmethod
    def _answer(status: int, payload: bytes) -> str:
        if status == 200:
            try:
                return str(json.loads(payload).get("status"))
            except ValueError:
                return "200 unreadable"
        return f"http {status}"

    async def offer(self, bodies: list[bytes], rate: int) -> float:
        """Send every body at its time; returns the seconds the offer took (send window)."""
        queue: asyncio.Queue = asyncio.Queue()
        workers = [asyncio.create_task(self._worker(queue)) for _ in range(self.connections)]
        began = time.monotonic()
        for k, body in enumerate(bodies):
            due = began + k / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((body, due))
        window = time.monotonic() - began
        for _ in workers:
            queue.put_nowait(None)
        await asyncio.gather(*workers)
        return window


# --- visible lag: when did each event stop being pending for other transactions? ----------------


class PendingWatcher(threading.Thread):
    """Every ``POLL_S`` reads the ids of pending rows (a small partial index) and remembers, per
    event, the first poll at which it was no longer pending: its batch had committed by then."""

    def __init__(self, database_url: str) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.last_pending: dict[int, float] = {}  # id -> last poll (epoch s) that saw it pending
        self.polls: list[float] = []
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.is_set():
                now = time.time()
                ids = conn.execute("SELECT id FROM webhooks_rawevent WHERE state = 'pending'").fetchall()
                for (event_id,) in ids:
                    self.last_pending[event_id] = now
                self.polls.append(now)
                self.stop.wait(POLL_S)

    def visible_at(self, event_id: int, received_at: float) -> float:
        """First poll after the last one that saw the event pending (or after it was received)."""
        seen = self.last_pending.get(event_id, received_at)
        from bisect import bisect_right

        index = bisect_right(self.polls, seen)
        return self.polls[index] if index < len(self.polls) else self.polls[-1]


# --- processes ------------------------------------------------------------------------------


def wait_ready(host: str, port: int, timeout: float = 30.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answered (503 while the broker or DB warm up is fine here)
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


# --- the run --------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=1000, help="webhooks offered per second")
    parser.add_argument("--duration", type=int, default=60, help="seconds of offered traffic")
    parser.add_argument("--db", default="bench_e2e")
    parser.add_argument("--pg", default="postgres://postgres@localhost:5432", help="server URL (no database)")
    parser.add_argument("--redis", default="redis://localhost:6379/13", help="broker (its Celery queue is cleared)")
    parser.add_argument("--port", type=int, default=8767)
    parser.add_argument(
        "--server",
        default="receiver",
        choices=["receiver", "django"],
        help="receiver: config.receiver (ASGI, as docker-compose); django: the dashboard's webhook view",
    )
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (default: 2 receiver, 3 django)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="--server django")
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker (--server django)")
    parser.add_argument("--connections", type=int, default=24, help="client connections")
    parser.add_argument("--batch-size", type=int, help="SIPDESK_CLASSIFY_BATCH_SIZE for the worker")
    parser.add_argument("--drain-timeout", type=int, default=300, help="seconds to wait for the backlog")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()

    import psycopg
    import redis

    database_url = f"{args.pg}/{args.db}"
    env = production_env(
        settings_module="config.settings", database_url=database_url, redis_url=args.redis, secret=SECRET
    )
    if args.batch_size:
        env["SIPDESK_CLASSIFY_BATCH_SIZE"] = str(args.batch_size)
    bin_dir = Path(sys.executable).parent

    print(f"fresh database {args.db} …", flush=True)
    fresh_database(args.db, args.pg)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    broker = redis.Redis.from_url(args.redis)
    broker.delete("celery", "unacked", "unacked_index")  # stale classify messages from earlier runs

    print(f"building {args.rate * args.duration:,} bodies …", flush=True)
    bodies = schedule(args.rate, args.duration, args.seed)

    if args.server == "receiver":
        args.web_workers = args.web_workers or 2
        server = ["config.receiver:application", "--worker-class", "config.receiver_worker.ReceiverWorker"]
    else:
        args.web_workers = args.web_workers or 3
        server = ["config.wsgi:application", "--worker-class", args.worker_class, "--threads", str(args.threads)]
    gunicorn = subprocess.Popen(
        [str(bin_dir / "gunicorn"), *server, "--bind", f"127.0.0.1:{args.port}", "--workers", str(args.web_workers),
         "--log-level", "warning", "--no-control-socket"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    worker = subprocess.Popen(
        [str(bin_dir / "celery"), "-A", "config", "worker", "--concurrency", "1", "--loglevel", "WARNING",
         "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL,  # its banner; warnings and errors go to stderr
    )  # fmt: skip
    watcher = PendingWatcher(database_url)
    try:
        wait_ready("127.0.0.1", args.port)
        time.sleep(2)  # the worker connects to the broker
        watcher.start()
        print(f"offering {args.rate}/s for {args.duration} s …", flush=True)
        client = Client("127.0.0.1", args.port, "/webhooks/8x8/", args.connections)
        offer_started = time.monotonic()
        window = asyncio.run(client.offer(bodies, args.rate))
        answered_in = time.monotonic() - offer_started
        drain_started = time.monotonic()
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() - drain_started < args.drain_timeout:
                (pending,) = conn.execute("SELECT count(*) FROM webhooks_rawevent WHERE state = 'pending'").fetchall()[
                    0
                ]
                if pending == 0:
                    break
                time.sleep(0.2)
        drained_in = time.monotonic() - drain_started
        time.sleep(3 * POLL_S)
        watcher.stop.set()
        watcher.join()
        worker_rss = max(rss_mb(pid) for pid in [worker.pid, *children(worker.pid)])
        web_rss = [rss_mb(pid) for pid in children(gunicorn.pid)]
    finally:
        watcher.stop.set()
        stop(gunicorn)
        stop(worker)

    with psycopg.connect(database_url) as conn:
        facts = report_facts(conn, watcher)
    if not args.keep_db:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
            from psycopg import sql

            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db)))

    return print_report(args, client, window, answered_in, drained_in, facts, worker_rss, web_rss)


def report_facts(conn, watcher: PendingWatcher) -> dict:
    one = lambda query: conn.execute(query).fetchone()  # noqa: E731
    facts = {}
    facts["rows"], facts["pending"], facts["failed"], facts["processed"], facts["deliveries"] = one(
        "SELECT count(*), count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed'),"
        " count(*) FILTER (WHERE state = 'processed'), coalesce(sum(deliveries), 0) FROM webhooks_rawevent"
    )
    facts["attempts"] = dict(conn.execute("SELECT attempts, count(*) FROM webhooks_rawevent GROUP BY 1").fetchall())
    (facts["classified"],) = one("SELECT count(*) FROM classify_eventclassification")
    (facts["sessions"],) = one("SELECT count(*) FROM classify_session")
    (facts["session_rollup"],) = one(
        "SELECT coalesce(sum(count), 0) FROM classify_sessionrollup WHERE bucket_size = 'minute'"
    )
    (facts["final_codes"],) = one(
        "SELECT count(*) FROM classify_eventclassification WHERE is_final AND sip_code_raw <> ''"
    )
    (facts["code_rollup"],) = one(
        "SELECT coalesce(sum(count), 0) FROM classify_coderollup WHERE bucket_size = 'minute'"
    )
    facts["lag"] = one(
        "SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag), max(lag)"
        " FROM (SELECT extract(epoch FROM processed_at - received_at) AS lag FROM webhooks_rawevent"
        " WHERE processed_at IS NOT NULL) AS lags"
    )
    visible = sorted(
        watcher.visible_at(event_id, received.timestamp()) - received.timestamp()
        for event_id, received in conn.execute("SELECT id, received_at FROM webhooks_rawevent").fetchall()
    )
    facts["visible"] = [percentile(visible, p) for p in (0.5, 0.95, 0.99)] + [visible[-1] if visible else 0.0]
    (facts["batches"],) = one("SELECT count(DISTINCT processed_at) FROM webhooks_rawevent")
    return facts


def print_report(args, client: Client, window, answered_in, drained_in, facts, worker_rss, web_rss) -> int:
    sent = sum(client.answers.values())
    stored, duplicate = client.answers["stored"], client.answers["duplicate"]
    other = {k: v for k, v in client.answers.items() if k not in ("stored", "duplicate")}
    lat = sorted(client.latencies)
    (p50, p95, p99), lag_max = facts["lag"]
    v50, v95, v99, vmax = facts["visible"]
    print()
    server_kind = "asgi (config.receiver)" if args.server == "receiver" else f"{args.worker_class} (Django view)"
    print(f"machine: {os.cpu_count()} CPUs; gunicorn {args.web_workers} × {server_kind}; "
          f"1 celery worker process; batch size {args.batch_size or 'default'}")  # fmt: skip
    late_p99 = percentile(sorted(client.late), 0.99) * 1000
    delivered = sent / answered_in  # what the server really took: the offer ends with the last answer
    print(f"offered: {sent:,} webhooks scheduled over {window:.1f} s ({sent / window:,.0f}/s, "
          f"target {args.rate}/s); answered within {answered_in:.1f} s = {delivered:,.0f}/s delivered; "
          f"sent late p99 {late_p99:.0f} ms")  # fmt: skip
    print(f"answers: stored {stored:,}, duplicate {duplicate:,}, other {other or 0}, "
          f"connection errors {client.errors}; latency p50 {percentile(lat, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(lat, 0.95) * 1000:.1f} ms, p99 {percentile(lat, 0.99) * 1000:.1f} ms")  # fmt: skip
    print(f"backlog drained {drained_in:.1f} s after the last answer; {facts['batches']:,} batches")
    print(f"classification lag (processed_at − received_at): p50 {p50:.3f} s, p95 {p95:.3f} s, p99 {p99:.3f} s, "
          f"max {lag_max:.3f} s")  # fmt: skip
    print(f"visible lag (until the batch committed, ±{POLL_S * 1000:.0f} ms): p50 {v50:.3f} s, p95 {v95:.3f} s, "
          f"p99 {v99:.3f} s, max {vmax:.3f} s")  # fmt: skip
    print(f"rows: {facts['rows']:,} (processed {facts['processed']:,}, pending {facts['pending']}, failed "
          f"{facts['failed']}); attempts {dict(sorted(facts['attempts'].items()))}")  # fmt: skip
    print(f"classifications {facts['classified']:,}; sessions {facts['sessions']:,} (minute rollups count "
          f"{facts['session_rollup']:,}); final codes {facts['final_codes']:,} "
          f"(code rollups count {facts['code_rollup']:,})")  # fmt: skip
    print(f"RSS: celery worker {worker_rss:.0f} MB; web workers {', '.join(f'{m:.0f}' for m in web_rss)} MB")
    checks = {
        f"delivered ≥ 97 % of {args.rate}/s (the server kept up)": delivered >= 0.97 * args.rate,
        "every answer a 200 (stored or duplicate)": not other and client.errors == 0,
        "one row per 'stored' answer": facts["rows"] == stored,
        "every delivery counted once (sum of deliveries = stored + duplicate)": facts["deliveries"]
        == stored + duplicate,
        "nothing pending or failed": facts["pending"] == 0 and facts["failed"] == 0,
        "one classification per event": facts["classified"] == facts["processed"] == facts["rows"],
        "rollups add up (sessions, final codes)": facts["session_rollup"] == facts["sessions"]
        and facts["code_rollup"] == facts["final_codes"],
        f"lag p95 < {TARGET_P95_S:.0f} s": p95 < TARGET_P95_S,
        f"visible lag p95 < {TARGET_P95_S:.0f} s": v95 < TARGET_P95_S,
    }
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
