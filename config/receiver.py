"""ASGI entry point of the webhook receiver.

``gunicorn config.receiver:application -k config.receiver_worker.ReceiverWorker``.

The dashboard runs on config.wsgi; this process only receives webhooks (webhooks/asgi.py).
"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup(set_prefix=False)

from webhooks.asgi import Receiver  # noqa: E402 - needs the app registry set up

application = Receiver()
