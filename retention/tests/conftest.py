from __future__ import annotations

from dashboard.tests.conftest import support_client  # noqa: F401 - the session page test logs in
