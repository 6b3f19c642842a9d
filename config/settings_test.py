"""Settings for the test suite: the real settings, plus what tests need to be fast and repeatable."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "test-secret-key-" + "x" * 40)
os.environ.setdefault("SIPDESK_WEBHOOK_SECRETS", "test-webhook-secret,rotated-webhook-secret")

from config.settings import *  # noqa: F403
from config.settings import CACHES, DATABASES, env_str

# Parallel checkouts can keep their test databases (and Redis databases) apart.
TEST_DB_NAME = env_str("SIPDESK_TEST_DB_NAME", "test_sipdesk")
DATABASES["default"]["TEST"] = {"NAME": TEST_DB_NAME}
if env_str("SIPDESK_WORKER_USES_TEST_DB"):
    # A Celery worker started by a test must talk to the database pytest-django created.
    DATABASES["default"]["NAME"] = TEST_DB_NAME
REDIS_URL = CELERY_BROKER_URL = env_str("SIPDESK_TEST_REDIS_URL", "redis://localhost:6379/15")
CACHES["default"]["LOCATION"] = REDIS_URL
DATABASES["default"]["CONN_MAX_AGE"] = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
# Serve static files from the finders (no collectstatic before tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
