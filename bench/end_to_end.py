"""End to end: webhooks offered at a fixed rate through gunicorn, classified by Celery workers.

Run by hand (not in CI), from the repository root:

    .venv/bin/python bench/end_to_end.py [--rate 1000] [--duration 60] [--receivers 2 --workers 2]

It creates a fresh database (default ``bench_e2e``), migrates it, starts ``--receivers`` webhook
receivers (default 1) with production settings (DEBUG off, a secret key and a webhook secret),
each its own gunicorn process tree on its own port (``--port``, ``--port`` + 1, …), by default
with the same command line as docker-compose's ``receiver``, ``gunicorn -c config/gunicorn.py
config.receiver:application -k config.receiver_worker.ReceiverWorker`` (``--server django`` for
the dashboard's own webhook view instead), and ``--workers`` Celery workers (default 1), each its
own ``celery -A config worker --concurrency 1 -n w<i>@%h`` process: separate processes sharing
one PostgreSQL and one Redis, as separate machines would (README "Scaling"). It then POSTs
realistic bodies (``demo.traffic.session_events`` with 2 % duplicate and 5 % out-of-order
deliveries; each session's events spread over a few seconds, interleaved with other sessions')
to ``/webhooks/8x8/`` with ``Authorization: Bearer <secret>`` at ``--rate`` per second for
``--duration`` seconds. The client is asyncio on raw HTTP/1.1 connections, paced by a clock: a
slow answer never lowers the offered rate (requests queue up instead). Its connections are
spread over the receivers round-robin (connection k to receiver k mod n), as a load balancer
spreads connections; a request goes to whichever connection is free.

When the offer ends it waits for the backlog to drain and prints:

- the offered and answered rate, the answers (stored / duplicate / other) and their latency;
- per receiver, what it answered (client side) and what it counted itself (its own
  ``sipdesk_events_*`` counters, config/metrics.py, each process group writing to its own
  ``PROMETHEUS_MULTIPROC_DIR``); per worker, the events and batches it classified (its counters);
- classification lag, ``processed_at`` − the delivery that queued the event, over every event,
  p50/p95/p99/max; ``processed_at`` is stamped when the worker claims the batch, so it also
  prints the *visible* lag: until the batch committed (the commit timestamp of the row's last
  write when the server keeps them, ``track_commit_timestamp = on``; else a poller reads the
  pending rows every 50 ms, which costs the server a noticeable share of the CPUs). A repeat of
  an event already classified queues it again (webhooks/ingest.py ``_REPEND``): its lag runs
  from the repeat (``last_delivered_at``), not from the first delivery, which the dashboard had
  shown seconds before; repeats are also printed on their own line;
- exactly-once checks over every row, whichever receiver stored it and whichever worker
  classified it: one stored row per "stored" answer, every delivery counted once
  (``sum(deliveries)`` = stored + duplicate answers, once the repeats a receiver deferred because
  a worker held their row have been added: webhooks.ingest.BUMP_SQL), no row pending or failed, one
  classification per event, every committed claim counted by exactly one worker (the workers'
  counters add up to ``sum(attempts)``), each receiver's own count equal to the "stored" answers
  it gave, and minute and hour rollups that add up to the sessions and final codes stored; with
  several receivers or workers, that each of them did some of the work.

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
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent  # gunicorn and celery of this virtualenv
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
    """Paced HTTP/1.1 POSTs over a pool of raw asyncio connections (keep-alive when offered),
    spread over the servers at ``ports`` round-robin: connection k talks to ``ports[k % n]``."""

    def __init__(self, host: str, ports: list[int], path: str, connections: int) -> None:
        self.host, self.ports, self.path, self.connections = host, ports, path, connections
        self.answers: Counter[str] = Counter()
        self.latencies: list[float] = []
        self.late: list[float] = []  # how far behind schedule each request was sent
        self.errors = 0
        # The same, per server (index into ``ports``).
        self.answers_by: list[Counter[str]] = [Counter() for _ in ports]
        self.latencies_by: list[list[float]] = [[] for _ in ports]

    def _request(self, body: bytes) -> bytes:
        head = (
            f"POST {self.path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: Bearer {SECRET}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        return head.encode() + body

    async def _worker(self, queue: asyncio.Queue, target: int) -> None:
        port = self.ports[target]
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
                        reader, writer = await asyncio.open_connection(self.host, port)
                    writer.write(self._request(body))
                    assert reader is not None  # opened together with the writer
                    status, close, payload = await self._response(reader)
                    break
                except (ConnectionError, asyncio.IncompleteReadError):
                    writer = None
                    if attempt:
                        self.errors += 1
                        status, close, payload = 0, True, b""
            latency, answer = time.monotonic() - started, self._answer(status, payload)
            self.latencies.append(latency)
            self.latencies_by[target].append(latency)
            self.answers[answer] += 1
            self.answers_by[target][answer] += 1
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
        workers = [asyncio.create_task(self._worker(queue, k % len(self.ports))) for k in range(self.connections)]
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

# When an event last joined the queue: its first delivery, or the repeat that sent it back after
# it had been classified (``attempts`` > 1: a claim counts only when its batch commits). Should a
# second repeat come while it waits again, the wait is measured from that one (rare: 2 % repeats).
QUEUED_AT = "CASE WHEN attempts > 1 THEN last_delivered_at ELSE received_at END"

ROLLUP_LOCK_KEY = 0x51D0_0001  # classify/rollups.py's advisory lock (read here without Django)
# Who waits for which lock right now: the rollup rewrite's advisory lock, the per-session advisory
# locks (classify/pipeline.py ``_lock_sessions``) and every other lock (rows, dedupe keys).
LOCK_WAITS_SQL = """
    SELECT count(*) FILTER (WHERE locktype = 'advisory' AND classid = 0 AND objid = %(rollup)s),
           count(*) FILTER (WHERE locktype = 'advisory' AND NOT (classid = 0 AND objid = %(rollup)s)),
           count(*) FILTER (WHERE locktype <> 'advisory')
    FROM pg_locks WHERE NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
"""


class PendingWatcher(threading.Thread):
    """Every ``POLL_S`` counts the transactions waiting for a lock: summed over the polls and
    multiplied by ``POLL_S``, about how long workers (or receivers) spent waiting for each other.

    When the server does not keep commit timestamps (``track_commit_timestamp``), it also reads
    the ids of pending rows at each poll and remembers, per event, the first poll at which it
    was no longer pending: its batch had committed by then. That read returned ~2,700 ids per
    poll at 1,000 webhooks/s and cost the server ~14 s of CPU per minute of the run (measured
    with pg_stat_statements), an eighth of the two CPUs that the workers are short of; with
    commit timestamps the lag is read once, after the run (``report_facts``)."""

    def __init__(self, database_url: str, *, poll_pending: bool) -> None:
        super().__init__(daemon=True)
        self.database_url = database_url
        self.poll_pending = poll_pending
        self.last_pending: dict[int, float] = {}  # id -> last poll (epoch s) that saw it pending
        self.polls: list[float] = []
        self.lock_waits = [0, 0, 0]  # waiting transactions seen: rollup lock, session locks, other locks
        self.stop = threading.Event()

    def run(self) -> None:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.is_set():
                now = time.time()
                if self.poll_pending:
                    ids = conn.execute("SELECT id FROM webhooks_rawevent WHERE state = 'pending'").fetchall()
                    for (event_id,) in ids:
                        self.last_pending[event_id] = now
                self.polls.append(now)
                waits = conn.execute(LOCK_WAITS_SQL, {"rollup": ROLLUP_LOCK_KEY}).fetchone() or (0, 0, 0)
                self.lock_waits = [total + n for total, n in zip(self.lock_waits, waits, strict=True)]
                self.stop.wait(POLL_S)

    def visible_at(self, event_id: int, received_at: float) -> float:
        """First poll after the last one that saw the event pending (or after it was received)."""
        seen = self.last_pending.get(event_id, received_at)
        from bisect import bisect_right

        index = bisect_right(self.polls, seen)
        return self.polls[index] if index < len(self.polls) else self.polls[-1]


# --- processes ------------------------------------------------------------------------------


@dataclass
class Node:
    """One receiver (a gunicorn process tree) or one Celery worker, as one machine would run it."""

    name: str
    process: subprocess.Popen
    metrics_dir: Path  # its own PROMETHEUS_MULTIPROC_DIR: its counters, apart from the others'
    port: int = 0  # receivers only
    rss: list[float] = field(default_factory=list)  # MB: per gunicorn worker, or the worker's largest process
    counters: dict[str, float] = field(default_factory=dict)  # sample name -> value, summed over labels

    def count(self, sample: str) -> int:
        return round(self.counters.get(sample, 0.0))


def start_receiver(index: int, args: argparse.Namespace, env: dict[str, str], metrics_root: Path) -> Node:
    """Receiver ``r<index>`` on ``--port`` + index - 1: docker-compose's command line (``--server receiver``)."""
    if args.server == "receiver":
        app = ["config.receiver:application", "--worker-class", "config.receiver_worker.ReceiverWorker"]
    else:
        app = ["config.wsgi:application", "--worker-class", args.worker_class, "--threads", str(args.threads)]
    port = args.port + index - 1
    metrics_dir = metrics_root / f"r{index}"
    metrics_dir.mkdir()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.py", *app, "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.web_workers), "--log-level", "warning", "--no-control-socket"],
        cwd=ROOT, env=dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
    )  # fmt: skip
    return Node(f"r{index}", process, metrics_dir, port=port)


def start_worker(index: int, env: dict[str, str], metrics_root: Path) -> Node:
    """Celery worker ``w<index>@<host>``: one classification process, as on a machine of its own."""
    metrics_dir = metrics_root / f"w{index}"
    metrics_dir.mkdir()
    process = subprocess.Popen(
        [str(BIN / "celery"), "-A", "config", "worker", "--concurrency", "1", "-n", f"w{index}@%h",
         "--loglevel", "WARNING", "--without-gossip", "--without-mingle"],
        cwd=ROOT, env=dict(env, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
        stdout=subprocess.DEVNULL,  # its banner; warnings and errors go to stderr
    )  # fmt: skip
    return Node(f"w{index}@{socket.gethostname()}", process, metrics_dir)


def wait_ready(host: str, port: int, timeout: float = 60.0) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2).read()
            return
        except urllib.error.HTTPError:
            return  # it answered (503 while the broker or DB warm up is fine here)
        except OSError:  # refused, reset, or no answer yet within the timeout (URLError is one too)
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn on port {port} did not answer")


def wait_workers(broker_url: str, names: list[str], timeout: float = 60.0) -> None:
    """Until every worker answers a ping, i.e. consumes from the broker."""
    from celery import Celery

    control = Celery(broker=broker_url).control
    deadline = time.monotonic() + timeout
    answered: set[str] = set()
    while time.monotonic() < deadline:
        answered = {name for reply in control.ping(timeout=0.5) or [] for name in reply}
        if answered >= set(names):
            return
    raise RuntimeError(f"workers {sorted(set(names) - answered)} did not answer a ping")


def read_counters(directory: Path) -> dict[str, float]:
    """Every sample the processes writing to ``directory`` counted (prometheus_client's files)."""
    from prometheus_client import multiprocess

    totals: Counter[str] = Counter()
    for family in multiprocess.MultiProcessCollector.merge([str(f) for f in directory.glob("*.db")]):
        for sample in family.samples:
            totals[sample.name] += sample.value
    return dict(totals)


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except FileNotFoundError:
        pass  # gone meanwhile
    return 0.0


def children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def stop(processes: list[subprocess.Popen]) -> None:
    """SIGTERM to all at once (a warm shutdown: a worker finishes its batch), then wait for each."""
    running = [p for p in processes if p.poll() is None]
    for process in running:
        process.send_signal(signal.SIGTERM)
    for process in running:
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
    parser.add_argument("--port", type=int, default=8767, help="the first receiver's port (the next ones follow)")
    parser.add_argument("--receivers", type=int, default=1, help="receivers, each its own gunicorn on its own port")
    parser.add_argument("--workers", type=int, default=1, help="Celery workers, each its own process (-n w<i>@%%h)")
    parser.add_argument(
        "--server",
        default="receiver",
        choices=["receiver", "django"],
        help="receiver: config.receiver (ASGI, as docker-compose); django: the dashboard's webhook view",
    )
    parser.add_argument("--web-workers", type=int, help="gunicorn workers per receiver (default: 2 receiver, 3 django)")
    parser.add_argument("--worker-class", default="gthread", choices=["sync", "gthread"], help="--server django")
    parser.add_argument("--threads", type=int, default=2, help="threads per gthread worker (--server django)")
    parser.add_argument("--connections", type=int, default=24, help="client connections, spread over the receivers")
    parser.add_argument("--batch-size", type=int, help="SIPDESK_CLASSIFY_BATCH_SIZE for the workers")
    parser.add_argument("--drain-timeout", type=int, default=300, help="seconds to wait for the backlog")
    parser.add_argument("--seed", type=int, default=1000)
    parser.add_argument("--keep-db", action="store_true")
    args = parser.parse_args()
    if args.receivers < 1 or args.workers < 1 or args.connections < args.receivers:
        parser.error("--receivers and --workers must be at least 1, --connections at least --receivers")
    args.web_workers = args.web_workers or (2 if args.server == "receiver" else 3)

    import psycopg
    import redis

    database_url = f"{args.pg}/{args.db}"
    env = production_env(
        settings_module="config.settings", database_url=database_url, redis_url=args.redis, secret=SECRET
    )
    for name in ("SIPDESK_METRICS_DIR", "PROMETHEUS_MULTIPROC_DIR"):
        env.pop(name, None)  # each node counts in a directory of its own (start_*)
    if args.batch_size:
        env["SIPDESK_CLASSIFY_BATCH_SIZE"] = str(args.batch_size)

    print(f"fresh database {args.db} …", flush=True)
    fresh_database(args.db, args.pg)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], check=True, cwd=ROOT, env=env)
    broker = redis.Redis.from_url(args.redis)
    broker.delete("celery", "unacked", "unacked_index")  # stale classify messages from earlier runs

    print(f"building {args.rate * args.duration:,} bodies …", flush=True)
    bodies = schedule(args.rate, args.duration, args.seed)

    metrics_root = Path(tempfile.mkdtemp(prefix="sipdesk-e2e-metrics-"))
    receivers: list[Node] = []
    workers: list[Node] = []
    with psycopg.connect(database_url) as conn:
        (commit_times,) = conn.execute("SHOW track_commit_timestamp").fetchone() or ("off",)
    watcher = PendingWatcher(database_url, poll_pending=commit_times != "on")
    try:
        receivers += [start_receiver(i, args, env, metrics_root) for i in range(1, args.receivers + 1)]
        workers += [start_worker(i, env, metrics_root) for i in range(1, args.workers + 1)]
        for receiver in receivers:
            wait_ready("127.0.0.1", receiver.port)
        wait_workers(args.redis, [worker.name for worker in workers])
        watcher.start()
        print(f"offering {args.rate}/s for {args.duration} s to {len(receivers)} receiver(s) …", flush=True)
        client = Client("127.0.0.1", [r.port for r in receivers], "/webhooks/8x8/", args.connections)
        offer_started = time.monotonic()
        window = asyncio.run(client.offer(bodies, args.rate))
        answered_in = time.monotonic() - offer_started
        drain_started = time.monotonic()
        with psycopg.connect(database_url, autocommit=True) as conn:
            while time.monotonic() - drain_started < args.drain_timeout:
                # Drained: nothing pending, and no repeat left to add (webhooks.ingest.FOLD_SQL).
                left = conn.execute(
                    "SELECT (SELECT count(*) FROM webhooks_rawevent WHERE state = 'pending')"
                    " + (SELECT count(*) FROM webhooks_deferredrepeat)"
                ).fetchall()
                if left == [(0,)]:
                    break
                time.sleep(0.2)
        drained_in = time.monotonic() - drain_started
        time.sleep(3 * POLL_S)
        watcher.stop.set()
        watcher.join()
        for receiver in receivers:
            receiver.rss = [rss_mb(pid) for pid in children(receiver.process.pid)]
        for worker in workers:
            worker.rss = [max(rss_mb(pid) for pid in [worker.process.pid, *children(worker.process.pid)])]
    finally:
        watcher.stop.set()
        stop([node.process for node in [*receivers, *workers]])
        # Read once every process has exited: its counters are in its files (multiprocess mode).
        for node in [*receivers, *workers]:
            node.counters = read_counters(node.metrics_dir)
        shutil.rmtree(metrics_root, ignore_errors=True)

    with psycopg.connect(database_url) as conn:
        facts = report_facts(conn, watcher)
    if not args.keep_db:
        with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as conn:
            from psycopg import sql

            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(args.db)))

    return print_report(args, client, watcher, window, answered_in, drained_in, facts, receivers, workers)


def report_facts(conn, watcher: PendingWatcher) -> dict:
    one = lambda query: conn.execute(query).fetchone()  # noqa: E731
    facts = {}
    facts["rows"], facts["pending"], facts["failed"], facts["processed"], facts["deliveries"] = one(
        "SELECT count(*), count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'failed'),"
        " count(*) FILTER (WHERE state = 'processed'), coalesce(sum(deliveries), 0) FROM webhooks_rawevent"
    )
    (facts["deferred_left"],) = one("SELECT count(*) FROM webhooks_deferredrepeat")
    facts["attempts"] = dict(conn.execute("SELECT attempts, count(*) FROM webhooks_rawevent GROUP BY 1").fetchall())
    # Each committed claim adds one attempt (a rolled-back batch adds none): the claims made.
    facts["claims"] = sum(attempts * rows for attempts, rows in facts["attempts"].items())
    (facts["classified"],) = one("SELECT count(*) FROM classify_eventclassification")
    (facts["sessions"],) = one("SELECT count(*) FROM classify_session")
    (facts["final_codes"],) = one(
        "SELECT count(*) FROM classify_eventclassification WHERE is_final AND sip_code_raw <> ''"
    )
    for table, key in (("classify_sessionrollup", "session_rollup"), ("classify_coderollup", "code_rollup")):
        facts[key] = dict.fromkeys(("minute", "hour", "day"), 0) | dict(
            conn.execute(f"SELECT bucket_size, sum(count) FROM {table} GROUP BY 1").fetchall()  # noqa: S608
        )
    facts["lag"] = one(
        f"SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY lag), max(lag)"  # noqa: S608
        f" FROM (SELECT extract(epoch FROM processed_at - {QUEUED_AT}) AS lag FROM webhooks_rawevent"
        " WHERE processed_at IS NOT NULL) AS lags"
    )
    if watcher.poll_pending:
        rows = conn.execute(f"SELECT id, {QUEUED_AT}, attempts > 1 FROM webhooks_rawevent").fetchall()  # noqa: S608
        lags = [(watcher.visible_at(i, queued.timestamp()) - queued.timestamp(), repeat) for i, queued, repeat in rows]
    else:
        # A row's xmin is the transaction that last wrote it: the batch that classified it last
        # (for a repeat, its classification after the repeat, as the poller measures it to the
        # last poll that saw it pending).
        lags = conn.execute(
            f"SELECT extract(epoch FROM pg_xact_commit_timestamp(xmin) - {QUEUED_AT})::float, attempts > 1"  # noqa: S608
            " FROM webhooks_rawevent WHERE pg_xact_commit_timestamp(xmin) IS NOT NULL"
        ).fetchall()
    visible = sorted(lag for lag, _ in lags)
    repeats = sorted(lag for lag, repeat in lags if repeat)
    facts["visible"] = [percentile(visible, p) for p in (0.5, 0.95, 0.99)] + [visible[-1] if visible else 0.0]
    facts["visible_repeats"] = (len(repeats), percentile(repeats, 0.95) if repeats else 0.0, max(repeats, default=0.0))
    (facts["batches"],) = one("SELECT count(DISTINCT processed_at) FROM webhooks_rawevent")
    return facts


# The counters each node writes (config/metrics.py), as prometheus_client names their samples.
STORED, DUPLICATE = "sipdesk_events_stored_total", "sipdesk_events_duplicate_total"
DEFERRED = "sipdesk_events_duplicate_deferred_total"
CLASSIFIED, FAILED = "sipdesk_events_processed_total", "sipdesk_events_failed_total"
COMMITS = "sipdesk_group_commit_batch_size_count"
BATCHES, BATCH_SECONDS = "sipdesk_classification_batch_seconds_count", "sipdesk_classification_batch_seconds_sum"


def print_report(
    args,
    client: Client,
    watcher: PendingWatcher,
    window,
    answered_in,
    drained_in,
    facts,
    receivers: list[Node],
    workers: list[Node],
) -> int:
    sent = sum(client.answers.values())
    stored, duplicate = client.answers["stored"], client.answers["duplicate"]
    other = {k: v for k, v in client.answers.items() if k not in ("stored", "duplicate")}
    lat = sorted(client.latencies)
    lags, lag_max = facts["lag"]
    # Nothing classified (the workers failed): no lag to measure, and the checks below say so.
    nothing = float("nan")
    (p50, p95, p99), lag_max = lags or (nothing,) * 3, lag_max if lag_max is not None else nothing
    v50, v95, v99, vmax = facts["visible"]
    print()
    server_kind = "asgi (config.receiver)" if args.server == "receiver" else f"{args.worker_class} (Django view)"
    print(f"machine: {os.cpu_count()} CPUs; {len(receivers)} receiver(s), each gunicorn {args.web_workers} × "
          f"{server_kind}; {len(workers)} celery worker process(es), --concurrency 1; "
          f"batch size {args.batch_size or 'default'}")  # fmt: skip
    late_p99 = percentile(sorted(client.late), 0.99) * 1000
    delivered = sent / answered_in  # what the server really took: the offer ends with the last answer
    print(f"offered: {sent:,} webhooks scheduled over {window:.1f} s ({sent / window:,.0f}/s, "
          f"target {args.rate}/s); answered within {answered_in:.1f} s = {delivered:,.0f}/s delivered; "
          f"sent late p99 {late_p99:.0f} ms")  # fmt: skip
    print(f"answers: stored {stored:,}, duplicate {duplicate:,}, other {other or 0}, "
          f"connection errors {client.errors}; latency p50 {percentile(lat, 0.5) * 1000:.1f} ms, "
          f"p95 {percentile(lat, 0.95) * 1000:.1f} ms, p99 {percentile(lat, 0.99) * 1000:.1f} ms")  # fmt: skip
    for i, receiver in enumerate(receivers):
        answers, lat_i = client.answers_by[i], sorted(client.latencies_by[i])
        other_i = sum(v for k, v in answers.items() if k not in ("stored", "duplicate"))
        connections = len(range(i, args.connections, len(receivers)))
        commits = f" in {receiver.count(COMMITS):,} group commits" if receiver.count(COMMITS) else ""
        print(f"  receiver {receiver.name} :{receiver.port} ({connections} connections): "
              f"answered {sum(answers.values()):,} (stored {answers['stored']:,}, duplicate {answers['duplicate']:,}, "
              f"other {other_i}), latency p95 {percentile(lat_i, 0.95) * 1000:.1f} ms; its own counters: stored "
              f"{receiver.count(STORED):,}, duplicate {receiver.count(DUPLICATE):,} (deferred "
              f"{receiver.count(DEFERRED):,}){commits}; "
              f"RSS {', '.join(f'{m:.0f}' for m in receiver.rss)} MB")  # fmt: skip
    print(f"backlog drained {drained_in:.1f} s after the last answer; {facts['batches']:,} batches")
    for worker in workers:
        print(f"  worker {worker.name}: classified {worker.count(CLASSIFIED):,} events (failed "
              f"{worker.count(FAILED)}) in {worker.count(BATCHES):,} batches, "
              f"{worker.counters.get(BATCH_SECONDS, 0):.1f} s in batches; "
              f"RSS {max(worker.rss, default=0):.0f} MB")  # fmt: skip
    rollup, sessions, rows = (n * POLL_S for n in watcher.lock_waits)
    print(f"waiting for locks (sampled every {POLL_S * 1000:.0f} ms, summed over transactions): rollup lock "
          f"~{rollup:.1f} s, session locks ~{sessions:.1f} s, other locks ~{rows:.1f} s")  # fmt: skip
    print(f"classification lag (processed_at − queued): p50 {p50:.3f} s, p95 {p95:.3f} s, p99 {p99:.3f} s, "
          f"max {lag_max:.3f} s")  # fmt: skip
    how = f"±{POLL_S * 1000:.0f} ms" if watcher.poll_pending else "commit timestamps"
    print(f"visible lag (until the batch committed, {how}): p50 {v50:.3f} s, p95 {v95:.3f} s, "
          f"p99 {v99:.3f} s, max {vmax:.3f} s")  # fmt: skip
    n_repeats, r95, rmax = facts["visible_repeats"]
    print(f"  of which {n_repeats:,} queued again by a repeat (from the repeat): p95 {r95:.3f} s, max {rmax:.3f} s")
    print(f"rows: {facts['rows']:,} (processed {facts['processed']:,}, pending {facts['pending']}, failed "
          f"{facts['failed']}); attempts {dict(sorted(facts['attempts'].items()))}: {facts['claims']:,} claims "
          "committed")  # fmt: skip
    sr, cr = facts["session_rollup"], facts["code_rollup"]
    print(f"classifications {facts['classified']:,}; sessions {facts['sessions']:,} (rollups count "
          f"{sr['minute']:,} by minute, {sr['hour']:,} by hour, {sr['day']:,} by day); final codes "
          f"{facts['final_codes']:,} (rollups count {cr['minute']:,} by minute, {cr['hour']:,} by hour, "
          f"{cr['day']:,} by day)")  # fmt: skip
    checks = {
        f"delivered ≥ 97 % of {args.rate}/s (the server kept up)": delivered >= 0.97 * args.rate,
        "every answer a 200 (stored or duplicate)": not other and client.errors == 0,
        "one row per 'stored' answer": facts["rows"] == stored,
        "every delivery counted once (sum of deliveries = stored + duplicate)": facts["deliveries"]
        == stored + duplicate,
        "each receiver counted exactly the stored and duplicate answers it gave": all(
            r.count(STORED) == client.answers_by[i]["stored"]
            and r.count(DUPLICATE) == client.answers_by[i]["duplicate"]
            for i, r in enumerate(receivers)
        ),
        "nothing pending or failed, no repeat left uncounted": facts["pending"]
        == facts["failed"]
        == facts["deferred_left"]
        == 0,
        "one classification per event": facts["classified"] == facts["processed"] == facts["rows"],
        "every claim classified by one worker (workers' counters = sum of attempts)": sum(
            w.count(CLASSIFIED) + w.count(FAILED) for w in workers
        )
        == facts["claims"],
        "rollups add up (sessions, final codes; minute, hour and day buckets)": sr["minute"]
        == sr["hour"]
        == sr["day"]
        == facts["sessions"]
        and cr["minute"] == cr["hour"] == cr["day"] == facts["final_codes"],
        f"lag p95 < {TARGET_P95_S:.0f} s": p95 < TARGET_P95_S,
        f"visible lag p95 < {TARGET_P95_S:.0f} s": v95 < TARGET_P95_S,
    }
    if len(receivers) > 1:
        checks["every receiver stored events"] = all(r.count(STORED) > 0 for r in receivers)
    if len(workers) > 1:
        checks["every worker classified events"] = all(w.count(CLASSIFIED) > 0 for w in workers)
    for label, ok in checks.items():
        print(f"  [{'ok' if ok else 'MISSED'}] {label}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
