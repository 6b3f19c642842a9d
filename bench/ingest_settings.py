"""Settings for bench/ingest.py only: the production settings plus a URLconf with a bare view."""

from __future__ import annotations

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.ingest_urls"
