"""The receiver's gunicorn worker: gunicorn's ASGI worker plus a deadline for request headers.

``gunicorn config.receiver:application -k config.receiver_worker.ReceiverWorker``. gunicorn 27's
ASGI worker bounds the wait *between* body chunks (``--timeout``) and the idle time between
requests on a kept-alive connection (``--keep-alive``), but not the headers of a connection's
first request: a client sending them a byte at a time held its connection for as long as it
liked (issue 9). The body as a whole is bounded by the app itself (webhooks/asgi.py, 408).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from gunicorn.asgi.protocol import ASGIProtocol
from gunicorn.workers import gasgi


class HeaderDeadlineProtocol(ASGIProtocol):
    """Answers 408 and closes an HTTP/1 connection whose first request's headers are not complete
    within SIPDESK_RECEIVER_HEADER_TIMEOUT_SECONDS of connecting. Later requests on the connection
    are bounded by the keep-alive timer, which runs until their headers are complete."""

    _header_deadline: Any = None

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        if self._callback_parser is not None:  # HTTP/1 (HTTP/2 has its own framing and timers)
            self._header_deadline = self.worker.loop.call_later(
                settings.SIPDESK_RECEIVER_HEADER_TIMEOUT_SECONDS, self._headers_too_slow
            )

    def _on_headers_complete(self) -> Any:
        self._cancel_header_deadline()
        return super()._on_headers_complete()

    def connection_lost(self, exc: BaseException | None) -> None:
        self._cancel_header_deadline()
        super().connection_lost(exc)

    def _cancel_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self._current_request is None and not self._closed:
            self._send_error_response(408, "request headers not received in time")
            self._close_transport()
            if self._request_ready is not None:
                self._request_ready.set()  # as gunicorn's keep-alive timeout: the handler sees _closed


class ReceiverWorker(gasgi.ASGIWorker):
    """gunicorn's ASGI worker serving connections with HeaderDeadlineProtocol."""

    def run(self) -> None:
        # The worker builds its protocol by this module-level name (gunicorn/workers/gasgi.py);
        # only a receiver worker process ever runs this.
        gasgi.ASGIProtocol = HeaderDeadlineProtocol
        super().run()
