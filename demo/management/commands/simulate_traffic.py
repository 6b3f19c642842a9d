"""Post realistic 8x8 webhook traffic (demo/traffic.py) to a URL at a steady rate."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.traffic import traffic

_EVENTS_PER_SESSION = 6.5  # average bodies per generated session, to keep event time ≈ wall time


def post(url: str, body: bytes, secret: str, timeout: float = 10.0) -> tuple[int, str]:
    """POST one body; returns (HTTP status, answer's "status"/"error" or a transport error). 0 = no answer."""
    headers = {"Content-Type": "application/json", "User-Agent": "sipdesk-simulate-traffic/1"}
    if secret:
        headers["Authorization"] = f"Bearer {secret}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 - URL given by the operator
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (OSError, urllib.error.URLError) as exc:
        return 0, type(exc).__name__
    try:
        answer = json.loads(raw)
        return status, str(answer.get("status") or answer.get("error") or "")
    except (ValueError, AttributeError):
        return status, ""


class Command(BaseCommand):
    help = "Post realistic 8x8 voice webhooks (all products, SIP failures, quirks, duplicates) to a URL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", required=True, help="e.g. http://127.0.0.1:8000/webhooks/8x8/")
        parser.add_argument("--rate", type=float, default=20.0, help="webhooks per second (default 20)")
        parser.add_argument("--duration", type=float, default=10.0, help="seconds to run; 0 = until interrupted")
        parser.add_argument(
            "--secret", default=None, help="Authorization secret (default: first SIPDESK_WEBHOOK_SECRETS)"
        )
        parser.add_argument("--duplicates", type=float, default=0.05, help="share of bodies delivered twice")
        parser.add_argument("--out-of-order", type=float, default=0.1, help="share of bodies swapped with a later one")
        parser.add_argument("--seed", type=int, default=None, help="random seed, for repeatable traffic")
        parser.add_argument("--threads", type=int, default=4, help="concurrent senders (default 4)")
        parser.add_argument("--no-quirks", action="store_true", help="only clean, current payload shapes")

    def handle(self, *args: Any, **options: Any) -> None:
        rate, duration = options["rate"], options["duration"]
        if rate <= 0 or duration < 0 or options["threads"] < 1:
            raise CommandError("--rate must be > 0, --duration >= 0 and --threads >= 1")
        secret = options["secret"]
        if secret is None:
            secret = settings.SIPDESK_WEBHOOK_SECRETS[0] if settings.SIPDESK_WEBHOOK_SECRETS else ""
        rng = random.Random(options["seed"])
        bodies = traffic(
            rng,
            sessions_per_second=max(rate / _EVENTS_PER_SESSION, 0.01),
            duplicates=options["duplicates"],
            out_of_order=options["out_of_order"],
            quirks=not options["no_quirks"],
        )
        results: Counter[tuple[int, str]] = Counter()
        kinds: Counter[str] = Counter()
        lock = threading.Lock()
        in_flight = threading.BoundedSemaphore(options["threads"] * 2)  # back-pressure if the server is slow

        def send(body: bytes) -> None:
            try:
                outcome = post(options["url"], body, secret)
                with lock:
                    results[outcome] += 1
            finally:
                in_flight.release()

        started = time.monotonic()
        sent = 0
        try:
            with ThreadPoolExecutor(max_workers=options["threads"]) as pool:
                for body in bodies:
                    due = started + sent / rate
                    now = time.monotonic()
                    if duration and due - started >= duration:
                        break
                    if due > now:
                        time.sleep(due - now)
                    in_flight.acquire()
                    kinds[str(body.get("eventType", "LEGACY"))] += 1
                    pool.submit(send, json.dumps(body).encode())
                    sent += 1
        except KeyboardInterrupt:
            self.stderr.write("interrupted; waiting for requests in flight")
        self._summary(sent, time.monotonic() - started, results, kinds)

    def _summary(self, sent: int, elapsed: float, results: Counter[tuple[int, str]], kinds: Counter[str]) -> None:
        stored = sum(n for (code, status), n in results.items() if code == 200 and status == "stored")
        duplicate = sum(n for (code, status), n in results.items() if code == 200 and status == "duplicate")
        refused: Counter[str] = Counter()
        for (code, status), n in results.items():
            if code != 200:
                refused[f"{code or 'no answer'} {status}".strip()] += n
        self.stdout.write(
            f"sent {sent} in {elapsed:.1f}s ({sent / elapsed if elapsed else 0:.1f}/s): "
            f"stored {stored}, duplicate {duplicate}, refused {sum(refused.values())}"
        )
        for label, n in sorted(refused.items()):
            self.stdout.write(f"  refused {label}: {n}")
        self.stdout.write("  by kind: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
