from __future__ import annotations

from .servers import hook_server, smtp_server  # noqa: F401 - fixtures
