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


def _secret(name: str, default: str = "") -> str:
    """A secret from ``NAME``, or from the file named by ``NAME_FILE`` (Docker/Kubernetes
    secrets), so it need not sit in the environment. Setting both is refused."""
    value = env.str(name, default="")
    path = env.str(f"{name}_FILE", default="")
    if value and path:
        raise ImproperlyConfigured(f"Set {name} or {name}_FILE, not both.")
    if path:
        try:
            return Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE cannot be read: {exc.strerror}") from exc
    return value or default


def _required_in_production(name: str, dev_default: str) -> str:
    value = _secret(name)
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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "csp",
    "accounts",
    "warehouses",
    "synchistory",
    "marketplaces",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "accounts.middleware.ContentSecurityPolicyMiddleware",  # django-csp's, + Seller Central
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.LanguageMiddleware",  # needs the user: their language comes first
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.SessionIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "accounts.middleware.TwoFactorMiddleware",
    # Last, as django-axes asks: it turns a lockout during authentication into the answer.
    "axes.middleware.AxesMiddleware",
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
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.roles",
            ],
        },
    },
]

WSGI_APPLICATION = "inventory_sync.wsgi.application"

DATABASES = {
    "default": _typed("DATABASE_URL", env.db_url, f"sqlite:///{VAR_DIR / 'inventory_sync.sqlite3'}")
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
    # None of the last 10 passwords again, as Amazon's Data Protection Policy asks.
    {"NAME": "accounts.passwords.PasswordHistoryValidator", "OPTIONS": {"remember": 10}},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# The absolute lifetime: accounts.middleware logs a session out this long after its login,
# however active (Django's own expiry restarts at every save of the session).
SESSION_COOKIE_AGE = _typed("SESSION_COOKIE_AGE", env.int, 60 * 60 * 8)
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
# Logged out after this many seconds without a request (0: only SESSION_COOKIE_AGE applies).
SESSION_IDLE_TIMEOUT = _typed("SESSION_IDLE_TIMEOUT", env.int, 60 * 60)

# django-axes first: it refuses a locked-out username+IP before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = _typed("AXES_FAILURE_LIMIT", env.int, 5)
AXES_COOLOFF_TIME = timedelta(minutes=_typed("AXES_COOLOFF_MINUTES", env.int, 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_CLIENT_IP_CALLABLE = "accounts.audit.client_ip"
# Lockouts go to the audit log; axes' own per-attempt log lines would only repeat them.
AXES_VERBOSE = False
# Number of reverse proxies in front of the app whose X-Forwarded-For is trusted for the client
# address (lockout, audit log). 0: the socket's peer address.
TRUSTED_PROXY_COUNT = _typed("TRUSTED_PROXY_COUNT", env.int, 0)
# Two-factor (TOTP, django-otp): optional for everyone; with this on, admins must set it up.
REQUIRE_2FA: bool = _strict_bool("REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "inventory-sync"

# Who answers for a security incident (Amazon's DPP asks for a named contact): shown in the
# footer of Settings pages and the audit log; `check --deploy` warns while it is empty.
SECURITY_CONTACT_EMAIL = env.str("SECURITY_CONTACT_EMAIL", "")

# Audit log: kept at least a year (Amazon's DPP asks for 90 days and recommends 12 months).
AUDIT_LOG_RETENTION_DAYS = _typed("AUDIT_LOG_RETENTION_DAYS", env.int, 400)
if AUDIT_LOG_RETENTION_DAYS < 365:
    raise ImproperlyConfigured(
        "Environment variable AUDIT_LOG_RETENTION_DAYS is invalid: keep the audit log at least "
        "365 days."
    )

LANGUAGE_CODE = "en-ca"
# English and Canadian French (Quebec's Charter of the French Language; Amazon.ca is bilingual).
# Each user picks one; until they do, the browser's Accept-Language, then the organization's
# (accounts.middleware.LanguageMiddleware). Django's own French ("fr") covers its messages.
LANGUAGES = [("en-ca", "English"), ("fr-ca", "Français")]
LOCALE_PATHS = [BASE_DIR / "locale"]
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
    CSRF_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"

# Content-Security-Policy (django-csp): scripts and styles only from our own /static/, no inline
# script, style or event handler, no eval. htmx's inline indicator style is turned off by the
# <meta name="htmx-config"> in base.html. Applies in development too, so a violation shows early.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# Exception reports hide credentials in settings and posted forms.
DEFAULT_EXCEPTION_REPORTER_FILTER = "inventory_sync.logging.RedactingExceptionReporterFilter"

# Celery. Without REDIS_URL the broker is kombu's filesystem transport in var/celery, so web,
# worker and beat pass tasks between processes on one machine with no server.
REDIS_URL: str = _typed("REDIS_URL", env.str, "")
CELERY_FILESYSTEM_DIR = VAR_DIR / "celery"
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    # A task a dead worker had taken (acks_late) goes back to the queue after this long. It
    # must exceed the longest countdown of a retry (Redis holds ETA tasks as unacked).
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": _typed("CELERY_VISIBILITY_TIMEOUT", env.int, 60 * 60)
    }
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
# The queue tasks go to when nothing routes them elsewhere (tests give each worker its own).
CELERY_TASK_DEFAULT_QUEUE: str = _typed("CELERY_TASK_DEFAULT_QUEUE", env.str, "celery")
# A running sync whose worker has not reported for this long is dead: it may be claimed
# again, and the reaper marks it failed.
SYNC_RUN_STALE_AFTER_SECONDS: int = _typed("SYNC_RUN_STALE_AFTER_SECONDS", env.int, 600)
# Task modules outside the autodiscovered ``<app>.tasks``.
CELERY_IMPORTS = ("marketplaces.privacy",)

# Sync-history retention: successful runs are kept a month, failed runs two.
SYNC_HISTORY_KEEP_SUCCEEDED = timedelta(
    days=_typed("SYNC_HISTORY_KEEP_SUCCEEDED_DAYS", env.int, 30)
)
SYNC_HISTORY_KEEP_FAILED = timedelta(days=_typed("SYNC_HISTORY_KEEP_FAILED_DAYS", env.int, 60))
SYNC_HISTORY_DELETE_BATCH = _typed("SYNC_HISTORY_DELETE_BATCH", env.int, 1000)

# The application's own Login with Amazon credentials; in development the simulator's.
AMAZON_LWA_CLIENT_ID: str = _typed(
    "AMAZON_LWA_CLIENT_ID", env.str, "amzn1.application-oa2-client.simulator" if DEBUG else ""
)
AMAZON_LWA_CLIENT_SECRET: str = _secret(
    "AMAZON_LWA_CLIENT_SECRET", "simulator-secret" if DEBUG else ""
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
# Credentials and documents go to Amazon's own hosts only (marketplaces/endpoints.py): https,
# the SP-API regional hosts, api.amazon.com, public document addresses. The local simulator
# needs this on; it is on by default only in development.
AMAZON_ALLOW_SIMULATOR_HOSTS: bool = _strict_bool("AMAZON_ALLOW_SIMULATOR_HOSTS", DEBUG)
# Report and feed documents: at most this many bytes downloaded, and this many once gunzipped.
AMAZON_DOCUMENT_MAX_BYTES: int = _typed("AMAZON_DOCUMENT_MAX_BYTES", env.int, 100 * 1024 * 1024)
AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES: int = _typed(
    "AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES", env.int, 500 * 1024 * 1024
)
# The SP-API application id (amzn1.sp.solution.…) the consent page asks the seller about.
AMAZON_APPLICATION_ID: str = _typed(
    "AMAZON_APPLICATION_ID", env.str, "amzn1.sp.solution.simulator" if DEBUG else ""
)
# While the application is a draft, Amazon's consent URL needs version=beta.
AMAZON_APPLICATION_BETA: bool = _strict_bool("AMAZON_APPLICATION_BETA", False)

# Amazon's notifications (README "Orders within seconds"): the seller's standard SQS queue
# Amazon sends ORDER_CHANGE to. Empty: notifications cannot be turned on; polling alone.
AMAZON_NOTIFICATIONS_QUEUE_ARN: str = _typed("AMAZON_NOTIFICATIONS_QUEUE_ARN", env.str, "")
# The queue's URL for the consumer; empty: asked of SQS by the ARN's queue name and account
# (marketplaces.amazon.sqs.queue_url_from_arn).
AMAZON_NOTIFICATIONS_QUEUE_URL: str = _typed("AMAZON_NOTIFICATIONS_QUEUE_URL", env.str, "")
# The SQS API the consumer reads the queue through: empty is AWS itself; the demo and the tests
# point it at moto's server on 127.0.0.1.
SQS_ENDPOINT_URL: str = _typed("SQS_ENDPOINT_URL", env.str, "")
# The SQS client's default region; the consumer talks to the queue in the region its ARN names.
AWS_REGION: str = _typed("AWS_REGION", env.str, "")
# The keys of the IAM user that reads the queue (boto3's own variable names; only the consumer
# uses them). Empty: boto3 looks for credentials its usual way (an instance role, ~/.aws).
AWS_ACCESS_KEY_ID: str = _typed("AWS_ACCESS_KEY_ID", env.str, "")
AWS_SECRET_ACCESS_KEY: str = _secret("AWS_SECRET_ACCESS_KEY", "")
# Notifications count as healthy while a message was applied this recently (or the setup was
# turned on this recently): polling then slows down (marketplaces/order_polling.py).
AMAZON_NOTIFICATIONS_HEALTHY_MINUTES: int = _typed(
    "AMAZON_NOTIFICATIONS_HEALTHY_MINUTES", env.int, 30
)

LOG_LEVEL: str = _typed("LOG_LEVEL", env.str, "INFO").upper()
_HTTP_LOG_LEVEL = "DEBUG" if LOG_LEVEL == "DEBUG" else "WARNING"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # No credentials or personal data in any log line (inventory_sync/logging.py).
    "filters": {"redact": {"()": "inventory_sync.logging.RedactingFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact"]}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # axes logs every successful login at INFO; the audit log records logins already.
        "axes": {"level": "WARNING"},
        # httpx (under python-amazon-sp-api and our client) logs every HTTP call at INFO with
        # its full URL: thousands of lines a sync. A run logs its start and its end
        # (synchistory.services); the calls are detail for LOG_LEVEL=DEBUG.
        **{name: {"level": _HTTP_LOG_LEVEL} for name in ("httpx", "httpcore", "urllib3")},
    },
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
    # A stock change whose mark for the push was lost is found here (marketplaces.schedule).
    "reconcile-pushed-stock": {
        "task": "marketplaces.tasks.reconcile_pushed_stock_task",
        "schedule": timedelta(minutes=15),
        "options": {"expires": 10 * 60},
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
    # Buyers' personal data, 30 days after delivery (docs/SECURITY.md).
    "erase-personal-data": {
        "task": "marketplaces.privacy.erase_personal_data_task",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60},
    },
    # The Bank of Canada's rates of the days since the last fetched one (warehouses.exchange_rates).
    "fetch-exchange-rates": {
        "task": "warehouses.tasks.fetch_exchange_rates_task",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60},
    },
    "prune-audit-log": {
        "task": "accounts.tasks.prune_audit_log_task",
        "schedule": timedelta(days=1),
        "options": {"expires": 60 * 60},
    },
}

# Our Amazon rate limiter paces calls at Amazon's usage plans times this factor. Leave it at 1
# against Amazon; set it to the simulator's --time-scale when talking to a sped-up simulator.
AMAZON_RATE_SCALE: float = _typed("AMAZON_RATE_SCALE", env.float, 1.0)
# Automatic item (listings) sync interval; orders follow each channel's own interval.
AMAZON_ITEM_SYNC_HOURS: int = _typed("AMAZON_ITEM_SYNC_HOURS", env.int, 6)
# Minutes between automatic FBA stock refreshes (only what changed since the last one).
AMAZON_FBA_INVENTORY_MINUTES: int = _typed("AMAZON_FBA_INVENTORY_MINUTES", env.int, 30)
# Returns and refunds (two reports and the Finances transactions) are read this often.
AMAZON_RETURNS_SYNC_HOURS: int = _typed("AMAZON_RETURNS_SYNC_HOURS", env.int, 6)
# Amazon's startDateTime leaves out changes to inbound quantities (working, shipped, receiving):
# an automatic refresh reads every SKU again once this long after the last complete one.
AMAZON_FBA_FULL_REFRESH_HOURS: int = _typed("AMAZON_FBA_FULL_REFRESH_HOURS", env.int, 24)
# A stock change waits this long before its push starts, so a burst of changes is one push.
STOCK_PUSH_DEBOUNCE_SECONDS: int = _typed("STOCK_PUSH_DEBOUNCE_SECONDS", env.int, 20)
# How long a sync waits for its own rate limiter before deferring the work to a later retry.
AMAZON_MAX_PACING_WAIT: float = _typed("AMAZON_MAX_PACING_WAIT", env.float, 30.0)
# Seconds an HTTP call to Amazon may take before it counts as a (transient) timeout.
AMAZON_HTTP_TIMEOUT: float = _typed("AMAZON_HTTP_TIMEOUT", env.float, 30.0)
# The Bank of Canada's Valet API, source of the daily exchange rates (warehouses/bank_of_canada.py).
# Tests point it at a local stand-in.
BANK_OF_CANADA_VALET_URL: str = _typed(
    "BANK_OF_CANADA_VALET_URL", env.str, "https://www.bankofcanada.ca/valet"
)
