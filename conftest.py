"""Fixtures shared by every app's tests: a fixed cast of users, a real Celery worker, a real receiver."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission, User

ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def _reseed_reference_for_transactional_tests(request: pytest.FixtureRequest) -> None:
    """Transactional tests (live_server, real workers) end with a table flush that also wipes
    the rows our data migrations seeded. Re-run the idempotent seed so every test starts from
    the same reference data and groups a fresh database has."""
    marker = request.node.get_closest_marker("django_db")
    transactional = bool(marker and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from django.apps import apps

    from incidents.seed import seed_incident_groups
    from reference.seed import seed_all

    seed_all(apps)
    seed_incident_groups(apps)


@pytest.fixture
def support_user(db) -> User:
    """A support engineer: the "Support" group (view permissions), numbers masked."""
    user = User.objects.create_user("support", password="support-pass-123")
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def numbers_user(support_user: User) -> User:
    """A support engineer who may also see full phone numbers."""
    support_user.user_permissions.add(Permission.objects.get(codename="view_full_numbers"))
    return User.objects.get(pk=support_user.pk)  # fresh instance: permission cache is per object


@pytest.fixture
def editor_user(db) -> User:
    """A reference admin: staff, in the "Reference editors" group."""
    user = User.objects.create_user("editor", password="editor-pass-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Reference editors"))
    return user


@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root", "root@example.com", "root-pass-123")


def _worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        SIPDESK_WORKER_USES_TEST_DB="1",
        SIPDESK_TEST_DB_NAME=settings.DATABASES["default"]["NAME"],
        SIPDESK_TEST_REDIS_URL=settings.CELERY_BROKER_URL,
        PYTHONUNBUFFERED="1",
    )
    return env


class ServiceProcess:
    """A subprocess of ours (``python -m …``) on the test database and test Redis, logging to var/."""

    what = "service"

    def __init__(self, log_name: str) -> None:
        self.process: subprocess.Popen | None = None
        self.log = ROOT / "var" / f"{log_name}-{os.getpid()}.log"

    def _launch(
        self, args: list[str], *, ready: Callable[[], bool], timeout: float, env: dict[str, str] | None = None
    ) -> None:
        self.log.parent.mkdir(exist_ok=True)
        self._log_file = self.log.open("w")
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", *args], cwd=ROOT, env={**_worker_env(), **(env or {})},
            stdout=self._log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.what} exited early:\n{self.log.read_text()}")
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.what} not ready after {timeout}s:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL, as an OOM killer or a crashed host would."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM (a graceful shutdown), then SIGKILL if it takes longer than 20 s."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()
        if hasattr(self, "_log_file"):
            self._log_file.close()


class CeleryWorker(ServiceProcess):
    """A real `celery worker` subprocess against the test database and test Redis."""

    what = "celery worker"

    def __init__(self, name: str = "w1") -> None:
        super().__init__(f"celery-{name}")
        self.name = name

    def start(self, timeout: float = 60) -> CeleryWorker:
        args = [
            "celery", "-A", "config", "worker", "--pool=solo", "--loglevel=INFO", "--without-gossip",
            "--without-mingle", f"--hostname={self.name}@%h",
        ]  # fmt: skip
        self._launch(args, ready=lambda: " ready." in self.log.read_text(), timeout=timeout)
        return self


class ReceiverServer(ServiceProcess):
    """The production webhook receiver, as docker-compose runs it (config.receiver_worker), on the test database."""

    what = "receiver"

    def __init__(self, workers: int = 2, env: dict[str, str] | None = None) -> None:
        super().__init__("receiver")
        self.workers = workers
        self.env = env or {}  # extra environment, e.g. shorter timeouts or another DATABASE_URL
        self.url = ""

    def start(self, timeout: float = 30) -> ReceiverServer:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        args = [
            "gunicorn", "config.receiver:application", "--worker-class", "config.receiver_worker.ReceiverWorker",
            "--workers", str(self.workers),
            "--bind", f"127.0.0.1:{port}", "--log-level", "info",
            "--no-control-socket",  # several servers may run at once (tests, benchmarks)
        ]  # fmt: skip
        self._launch(args, ready=self._answering, timeout=timeout, env=self.env)
        return self

    def _answering(self) -> bool:
        # Every worker up first: a SIGTERM that reaches a worker still booting is lost.
        if self.log.read_text().count("ASGI server listening") < self.workers:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):  # noqa: S310 - our own server
                return True
        except OSError:
            return False


@pytest.fixture
def receiver_server(transactional_db) -> Iterator[ReceiverServer]:
    """A real receiver process; what it stores is committed, so the test must be transactional."""
    server = ReceiverServer().start()
    try:
        yield server
    finally:
        server.stop()


def purge_test_broker() -> None:
    """Empty the test Redis database so no task from an earlier test leaks into this one."""
    import redis

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()


@pytest.fixture
def celery_worker_process(transactional_db) -> Iterator[CeleryWorker]:
    """Start a real worker; the test's data must be committed (transactional_db) for it to see."""
    purge_test_broker()
    worker = CeleryWorker().start()
    try:
        yield worker
    finally:
        worker.stop()
