"""gunicorn settings shared by the receiver and the web server (``gunicorn -c config/gunicorn.py``).

With PROMETHEUS_MULTIPROC_DIR set, each worker writes its metrics to files there; when one
exits, its live gauges must stop counting (config/metrics.py). Its counters are kept: a
counter never decreases.
"""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.environ.get("SIPDESK_METRICS_DIR"):
        from prometheus_client import multiprocess

        import config.metrics  # noqa: F401 - sets PROMETHEUS_MULTIPROC_DIR from SIPDESK_METRICS_DIR

        multiprocess.mark_process_dead(worker.pid)
