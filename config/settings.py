"""sipdesk settings: one module, every value from the environment (see .env.example)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_int, env_list, env_networks, env_str, env_url, parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_SECRET_KEY must be set when DJANGO_DEBUG is off")
    SECRET_KEY = "insecure-dev-only-key-not-for-production-use-0123456789abcdef"  # noqa: S105

ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "axes",
    "config.apps.ConfigConfig",
    "reference",
    "webhooks",
    "classify",
    "products",
    "dashboard",
    "audit",
    "alerts",
    "notes",
    "incidents",
    "retention",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Times shown and typed in the viewer's zone (the sipdesk_tz cookie set by static/js/localtime.js).
    "dashboard.timerange.ViewerTimezoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "config.middleware.RefuseNulParameters",  # issue 9: a NUL in a parameter is 400, never a DataError
    # Last, as django-axes asks: it turns a lockout raised during authentication into the answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ],
        },
    },
]

DATABASES = {
    "default": parse_database_url(env_str("DATABASE_URL", "postgres://postgres@localhost:5432/sipdesk")),
}
# No JIT: sipdesk's queries are short, and PostgreSQL compiled any whose estimate passed
# jit_above_cost (a number search over 5 M sessions: 10 ms of compiling for a 40 ms query).
# Server options given in DATABASE_URL (?options=...) come first.
_db_options = DATABASES["default"]["OPTIONS"]
_db_options["options"] = " ".join(filter(None, [_db_options.get("options", ""), "-c jit=off"]))
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DJANGO_CONN_MAX_AGE", 60, minimum=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# django-axes first: it refuses a locked-out username+address before any password is checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production defaults; DEBUG relaxes only what local HTTP needs) -------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("DJANGO_BEHIND_TLS_PROXY", False) else None
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy, enforced everywhere (so a violation shows up in development first):
# scripts and styles only from our own static files (htmx included, via django-htmx), plus
# nonced inline scripts; nothing may frame the pages or be posted elsewhere.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# Permissions-Policy (django-permissions-policy): the pages need no powerful browser feature.
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "autoplay", "camera", "display-capture", "encrypted-media", "fullscreen",
        "geolocation", "gyroscope", "magnetometer", "microphone", "midi", "payment", "usb",
    )
}  # fmt: skip
# Dashboard sessions: a working day, not two weeks (the pages show personal data). Changing a
# password ends the user's other sessions by itself (the session keeps a hash of the password).
SESSION_COOKIE_AGE = env_int("SIPDESK_SESSION_HOURS", 12, minimum=1, maximum=24 * 14) * 3600
# Login throttling (django-axes): a username+address pair is locked after this many failures
# for this many minutes; admins see and clear lockouts under Admin › Axes.
AXES_FAILURE_LIMIT = env_int("SIPDESK_LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIPDESK_LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_CLIENT_IP_CALLABLE = "config.proxies.request_client_ip"
# The lockout log line names the username and address (for the operator); never the password.
AXES_SENSITIVE_PARAMETERS: list[str] = []
# The receiver answers machine clients over plain paths; health probes come over HTTP inside
# the cluster, so they are exempt from the HTTPS redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]

# --- Celery ------------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "redis://localhost:6379/0")
CELERY_BROKER_URL = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None  # the state lives on the rows, not in a result store
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Publishing from the web request must fail fast when Redis is down: the event is already
# safe in PostgreSQL and the periodic sweep will enqueue it later.
CELERY_BROKER_TRANSPORT_OPTIONS = {"max_retries": 0, "socket_connect_timeout": 1, "socket_timeout": 2}
CELERY_BROKER_CONNECTION_TIMEOUT = 1
# Task names are strings so webhooks/ never imports classify/ (each app stays in its room).
CELERY_BEAT_SCHEDULE = {
    "sweep-pending-events": {"task": "webhooks.sweep_pending", "schedule": 10.0},
    "flag-missing-summaries": {"task": "classify.flag_missing_summaries", "schedule": 60.0},
    "maintain-rollups": {"task": "classify.maintain_rollups", "schedule": 300.0},
    "evaluate-alerts": {"task": "alerts.evaluate", "schedule": 60.0},
    "sweep-notifications": {"task": "alerts.sweep_notifications", "schedule": 30.0},
    "group-incidents": {"task": "incidents.group_sessions", "schedule": 30.0},
    # Creates the coming week's raw partitions too: hourly, so a day of beat outage loses nothing.
    "purge-old-events": {"task": "retention.purge", "schedule": 3600.0},
}
# Only for `make run` without Redis: tasks run inside the web process.
CELERY_TASK_ALWAYS_EAGER = env_bool("SIPDESK_TASKS_EAGER", False)

# --- Cache (rate limits): Redis, so every web process counts the same searches --------------
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "sipdesk",
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 2},
    }
}
if CELERY_TASK_ALWAYS_EAGER:  # `make run` without Redis: one process, so its own memory will do
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}

# --- sipdesk -----------------------------------------------------------------------------
# Shared secrets accepted in the webhook Authorization header (several, for rotation).
SIPDESK_WEBHOOK_SECRETS = env_list("SIPDESK_WEBHOOK_SECRETS")
# Optional allowlist of source addresses/CIDRs; empty means any source.
SIPDESK_WEBHOOK_ALLOWED_IPS = env_networks("SIPDESK_WEBHOOK_ALLOWED_IPS")
# Your reverse proxies (addresses/CIDRs). Only when the socket peer is one of them is
# X-Forwarded-For read, right to left, skipping these proxies: the first other address is the
# client (config/proxies.py). Empty: the socket peer is the client and the header is ignored.
SIPDESK_TRUSTED_PROXIES = env_networks("SIPDESK_TRUSTED_PROXIES")
if env_bool("SIPDESK_TRUST_X_FORWARDED_FOR", False) and not SIPDESK_TRUSTED_PROXIES:
    # The deprecated switch trusted the header from anyone, which let a client forge its address.
    raise ImproperlyConfigured(
        "SIPDESK_TRUST_X_FORWARDED_FOR is deprecated and unsafe on its own: set SIPDESK_TRUSTED_PROXIES "
        "to your reverse proxy's addresses (e.g. SIPDESK_TRUSTED_PROXIES=10.0.0.5) and remove it"
    )
# The webhook URL to give 8x8 (the receiver's public address), shown on the empty pages; unset,
# the pages show the dashboard's own /webhooks/8x8/, which accepts webhooks too.
SIPDESK_WEBHOOK_PUBLIC_URL = env_url("SIPDESK_WEBHOOK_PUBLIC_URL")
SIPDESK_WEBHOOK_MAX_BYTES = env_int("SIPDESK_WEBHOOK_MAX_BYTES", 256 * 1024, minimum=1024)
SIPDESK_WEBHOOK_MAX_DEPTH = env_int("SIPDESK_WEBHOOK_MAX_DEPTH", 32, minimum=4, maximum=512)
# The receiver answers 408 and closes a connection whose request headers (from connecting) or body
# (from the headers) take longer than this: slow clients cannot hold connections open.
SIPDESK_RECEIVER_HEADER_TIMEOUT_SECONDS = env_int("SIPDESK_RECEIVER_HEADER_TIMEOUT_SECONDS", 10, minimum=1)
SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS = env_int("SIPDESK_RECEIVER_BODY_TIMEOUT_SECONDS", 10, minimum=1)
# Rows still pending after this many seconds are re-enqueued by the periodic sweep.
SIPDESK_SWEEP_AFTER_SECONDS = env_int("SIPDESK_SWEEP_AFTER_SECONDS", 30, minimum=1)
SIPDESK_CLASSIFY_BATCH_SIZE = env_int("SIPDESK_CLASSIFY_BATCH_SIZE", 2000, minimum=1, maximum=10000)
# Seconds a pending event waits for the worker its session belongs to before any worker takes it
# (classify/pipeline.py, docs/design.md §2.3); 0 turns the split off.
SIPDESK_CLASSIFY_AFFINITY_SECONDS = env_int("SIPDESK_CLASSIFY_AFFINITY_SECONDS", 5, minimum=0, maximum=3600)
# A queue whose oldest pending event has waited longer than this is stuck: the overview's health
# strip shows it red and the dashboard's /healthz answers 503.
SIPDESK_PENDING_AGE_LIMIT_SECONDS = env_int("SIPDESK_PENDING_AGE_LIMIT_SECONDS", 300, minimum=1)
# A session with no summary this long after its last event is flagged.
SIPDESK_MISSING_SUMMARY_MINUTES = env_int("SIPDESK_MISSING_SUMMARY_MINUTES", 15, minimum=1)
# When set, /metrics requires "Authorization: Bearer <token>" (Prometheus' bearer_token).
SIPDESK_METRICS_TOKEN = env_str("SIPDESK_METRICS_TOKEN")
# Retention (retention/purge.py): raw payloads, then sessions/legs/classifications, then hour rollups.
SIPDESK_RAW_RETENTION_DAYS = env_int("SIPDESK_RAW_RETENTION_DAYS", 30, minimum=1)
SIPDESK_SESSION_RETENTION_DAYS = env_int("SIPDESK_SESSION_RETENTION_DAYS", 90, minimum=1)
SIPDESK_ROLLUP_RETENTION_DAYS = env_int("SIPDESK_ROLLUP_RETENTION_DAYS", 400, minimum=1)
# Disk guard (retention/disk.py): warn when free space on the database's disk falls below this.
SIPDESK_DISK_MIN_FREE_PERCENT = env_int("SIPDESK_DISK_MIN_FREE_PERCENT", 10, minimum=0, maximum=99)
# Whole-number searches (by users who see numbers masked) allowed per user per minute; each is
# recorded in audit.NumberSearch. Counted in the cache below, shared by every web process.
SIPDESK_NUMBER_SEARCHES_PER_MINUTE = env_int("SIPDESK_NUMBER_SEARCHES_PER_MINUTE", 20, minimum=1)
# Incidents (incidents/grouping.py): a fingerprint opens an incident at this many failing
# sessions in the window, when their share of the sub-account's sessions is above this percent
# of its usual share (the baseline hours before the window).
SIPDESK_INCIDENT_MIN_SESSIONS = env_int("SIPDESK_INCIDENT_MIN_SESSIONS", 10, minimum=1)
SIPDESK_INCIDENT_WINDOW_MINUTES = env_int("SIPDESK_INCIDENT_WINDOW_MINUTES", 15, minimum=1)
SIPDESK_INCIDENT_BASELINE_HOURS = env_int("SIPDESK_INCIDENT_BASELINE_HOURS", 24, minimum=1)
SIPDESK_INCIDENT_SHARE_PERCENT = env_int("SIPDESK_INCIDENT_SHARE_PERCENT", 100, minimum=0)
# Optional link for ticket references, "{ticket}" replaced: e.g. https://support.8x8.com/tickets/{ticket}
SIPDESK_TICKET_URL_TEMPLATE = env_url("SIPDESK_TICKET_URL_TEMPLATE")
# Escalation bundles up to this many sessions are built in the request; larger ones by a task.
SIPDESK_BUNDLE_SYNC_LIMIT = env_int("SIPDESK_BUNDLE_SYNC_LIMIT", 200, minimum=1)
SIPDESK_BUNDLE_MAX_SESSIONS = env_int("SIPDESK_BUNDLE_MAX_SESSIONS", 5000, minimum=1)
# A KPI rate over fewer sessions than this is shown greyed, with its count (dashboard/kpis.py).
SIPDESK_KPI_MIN_SESSIONS = env_int("SIPDESK_KPI_MIN_SESSIONS", 100, minimum=1)
# Demo conveniences (make run) are only ever allowed together with DEBUG.
SIPDESK_DEMO = env_bool("SIPDESK_DEMO", False)

# --- Alerts (alerts/) -------------------------------------------------------------------
# The dashboard's public base URL, for the links in alert messages (they are read outside it).
SIPDESK_DASHBOARD_URL = env_url("SIPDESK_DASHBOARD_URL")
# Fernet key for channel URLs stored in the database; unset, one derived from DJANGO_SECRET_KEY.
SIPDESK_ALERTS_KEY = env_str("SIPDESK_ALERTS_KEY")
# A firing alert is notified again after this many minutes (a rule may set its own).
SIPDESK_ALERTS_REPEAT_MINUTES = env_int("SIPDESK_ALERTS_REPEAT_MINUTES", 240, minimum=1)
# Attempts per notification before it is marked failed (backoff doubles from 30 s).
SIPDESK_ALERTS_SEND_ATTEMPTS = env_int("SIPDESK_ALERTS_SEND_ATTEMPTS", 5, minimum=1, maximum=20)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One line per request from runserver; `make run` turns it down so the demo trickle is quiet.
        "django.server": {"level": env_str("DJANGO_SERVER_LOG_LEVEL", "INFO")},
    },
}
