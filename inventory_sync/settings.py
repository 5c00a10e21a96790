"""Settings, all from the environment (django-environ).

With nothing set the product runs as a development install: DEBUG on, SQLite in ``var/``, and
Celery over kombu's filesystem transport, so one laptop needs no services. ``DATABASE_URL``
selects PostgreSQL and ``REDIS_URL`` selects Redis as broker. With DEBUG off, start-up refuses
to go on without the secrets a production install must set, and names the missing variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()


def _typed(name: str, reader: Any, default: Any) -> Any:
    """Read a typed variable; a value that cannot be parsed stops start-up naming it."""
    try:
        return reader(name, default=default)
    except (ValueError, TypeError, ImproperlyConfigured) as exc:
        raise ImproperlyConfigured(f"Environment variable {name} is invalid: {exc}") from exc


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _strict_bool(name: str, default: bool) -> bool:
    """django-environ reads any unknown word as False; a typo in DEBUG must not pass silently."""
    raw = env.str(name, default=str(default)).strip().lower()
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name} is invalid: {raw!r} is not one of true/false/1/0/yes/no"
    )


DEBUG: bool = _strict_bool("DEBUG", True)

_DEV_SECRET_KEY = "django-insecure-development-only-key-change-me"  # noqa: S105
# A fixed development key so a laptop install survives restarts; production must set its own.
_DEV_FIELD_KEY = "ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMzJieXQ="  # noqa: S105


def _required_in_production(name: str, dev_default: str) -> str:
    value = env.str(name, default="")
    if value:
        return value
    if DEBUG:
        return dev_default
    raise ImproperlyConfigured(
        f"{name} must be set when DEBUG is off (see README.md, 'Configuration')."
    )


SECRET_KEY = _required_in_production("SECRET_KEY", _DEV_SECRET_KEY)
ALLOWED_HOSTS: list[str] = _typed("ALLOWED_HOSTS", env.list, [])
if DEBUG and not ALLOWED_HOSTS:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured(
        "ALLOWED_HOSTS must be set when DEBUG is off (comma-separated host names)."
    )
# Comma-separated Fernet keys, newest first: MultiFernet encrypts with the first and decrypts
# with any, so a key can rotate: put the new key first, keep the old ones until every row has
# been re-encrypted.
FIELD_ENCRYPTION_KEYS: list[str] = [
    key.strip()
    for key in _required_in_production("FIELD_ENCRYPTION_KEY", _DEV_FIELD_KEY).split(",")
    if key.strip()
]
CSRF_TRUSTED_ORIGINS: list[str] = _typed("CSRF_TRUSTED_ORIGINS", env.list, [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "django_celery_beat",
    "accounts",
    "warehouses",
    "synchistory",
    "marketplaces",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
]

if not DEBUG:
    # In development runserver serves static files; in production whitenoise does, compressed
    # and with far-future cache headers.
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "inventory_sync.urls"

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
                "accounts.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "inventory_sync.wsgi.application"

DATABASES = {
    "default": _typed(
        "DATABASE_URL", env.db_url, f"sqlite:///{VAR_DIR / 'inventory_sync.sqlite3'}"
    )
}
if DATABASES["default"].get("ENGINE") not in {
    "django.db.backends.sqlite3",
    "django.db.backends.postgresql",
}:
    raise ImproperlyConfigured(
        "Environment variable DATABASE_URL is invalid: use postgres://… or sqlite:///…"
    )
DATABASES["default"]["CONN_MAX_AGE"] = _typed("CONN_MAX_AGE", env.int, 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    if DATABASES["default"]["NAME"] != ":memory:":
        Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share one SQLite file: wait for locks instead of failing at once,
    # and WAL lets readers run beside the one writer.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_AGE = _typed("SESSION_COOKIE_AGE", env.int, 60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True

LANGUAGE_CODE = "en-ca"
TIME_ZONE = _typed("TIME_ZONE", env.str, "America/Toronto")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Production hardening; each can be relaxed from the environment behind a TLS-terminating proxy.
if not DEBUG:
    SECURE_SSL_REDIRECT = _strict_bool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = _typed("SECURE_HSTS_SECONDS", env.int, 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    X_FRAME_OPTIONS = "DENY"
    SECURE_CONTENT_TYPE_NOSNIFF = True
    SECURE_REFERRER_POLICY = "same-origin"

# Celery. Without REDIS_URL the broker is kombu's filesystem transport in var/celery, so web,
# worker and beat pass tasks between processes on one machine with no server.
REDIS_URL: str = _typed("REDIS_URL", env.str, "")
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {"visibility_timeout": 60 * 60}
else:
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_FILESYSTEM_DIR / "queue"),
        "data_folder_out": str(CELERY_FILESYSTEM_DIR / "queue"),
        "processed_folder": str(CELERY_FILESYSTEM_DIR / "processed"),
        # Without this kombu keeps its exchange tables in ./control of each process's cwd.
        "control_folder": str(CELERY_FILESYSTEM_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER: bool = _strict_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = _typed("CELERY_TASK_SOFT_TIME_LIMIT", env.int, 25 * 60)
CELERY_TASK_TIME_LIMIT = _typed("CELERY_TASK_TIME_LIMIT", env.int, 30 * 60)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# Sync-history retention (SPEC §7): successful runs are kept a month, failed runs two.
SYNC_HISTORY_KEEP_SUCCEEDED = timedelta(
    days=_typed("SYNC_HISTORY_KEEP_SUCCEEDED_DAYS", env.int, 30)
)
SYNC_HISTORY_KEEP_FAILED = timedelta(days=_typed("SYNC_HISTORY_KEEP_FAILED_DAYS", env.int, 60))
SYNC_HISTORY_DELETE_BATCH = _typed("SYNC_HISTORY_DELETE_BATCH", env.int, 1000)

# The application's own Login with Amazon credentials; in development the simulator's.
AMAZON_LWA_CLIENT_ID: str = _typed(
    "AMAZON_LWA_CLIENT_ID", env.str, "amzn1.application-oa2-client.simulator" if DEBUG else ""
)
AMAZON_LWA_CLIENT_SECRET: str = _typed(
    "AMAZON_LWA_CLIENT_SECRET", env.str, "simulator-secret" if DEBUG else ""
)

# Where channels connect. In development the local simulator stands in for all of Amazon (start
# it with `python manage.py amazon_simulator`, or `make run`); in production Amazon's own hosts.
_SIMULATOR_URL = f"http://127.0.0.1:{_typed('SIMULATOR_PORT', env.int, 8765)}"
AMAZON_SPAPI_ENDPOINT: str = _typed(
    "AMAZON_SPAPI_ENDPOINT",
    env.str,
    _SIMULATOR_URL if DEBUG else "https://sellingpartnerapi-na.amazon.com",
)
AMAZON_LWA_ENDPOINT: str = _typed(
    "AMAZON_LWA_ENDPOINT", env.str, _SIMULATOR_URL if DEBUG else "https://api.amazon.com"
)
AMAZON_SELLER_CENTRAL_URL: str = _typed(
    "AMAZON_SELLER_CENTRAL_URL",
    env.str,
    _SIMULATOR_URL if DEBUG else "https://sellercentral.amazon.ca",
)
# The SP-API application id (amzn1.sp.solution.…) the consent page asks the seller about.
AMAZON_APPLICATION_ID: str = _typed(
    "AMAZON_APPLICATION_ID", env.str, "amzn1.sp.solution.simulator" if DEBUG else ""
)
# While the application is a draft, Amazon's consent URL needs version=beta.
AMAZON_APPLICATION_BETA: bool = _strict_bool("AMAZON_APPLICATION_BETA", False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": _typed("LOG_LEVEL", env.str, "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

AUTH_USER_MODEL = "accounts.User"

# Periodic jobs. django-celery-beat's DatabaseScheduler copies these into its tables at start,
# where an admin can see and pause them. `expires` drops a run that waited too long in the queue
# rather than letting a backlog of identical jobs pile up.
CELERY_BEAT_SCHEDULE = {
    "check-stock-drift": {
        "task": "marketplaces.tasks.check_drift_all_task",
        "schedule": timedelta(hours=24),
        "options": {"expires": 60 * 60},
    },
    "schedule-automatic-syncs": {
        "task": "marketplaces.tasks.schedule_automatic_syncs_task",
        "schedule": timedelta(minutes=1),
        "options": {"expires": 50},
    },
    "reap-dead-sync-runs": {
        "task": "synchistory.tasks.reap_dead_runs_task",
        "schedule": timedelta(minutes=2),
        "options": {"expires": 60},
    },
    "prune-sync-history": {
        "task": "synchistory.tasks.prune_sync_history_task",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60},
    },
}

# Our Amazon rate limiter paces calls at Amazon's usage plans times this factor. Leave it at 1
# against Amazon; set it to the simulator's --time-scale when talking to a sped-up simulator.
AMAZON_RATE_SCALE: float = _typed("AMAZON_RATE_SCALE", env.float, 1.0)
# Automatic item (listings) sync interval; orders follow each channel's own interval.
AMAZON_ITEM_SYNC_HOURS: int = _typed("AMAZON_ITEM_SYNC_HOURS", env.int, 6)
# A stock change waits this long before its push starts, so a burst of changes is one push.
STOCK_PUSH_DEBOUNCE_SECONDS: int = _typed("STOCK_PUSH_DEBOUNCE_SECONDS", env.int, 20)
# How long a sync waits for its own rate limiter before deferring the work to a later retry.
AMAZON_MAX_PACING_WAIT: float = _typed("AMAZON_MAX_PACING_WAIT", env.float, 30.0)
