"""Backup Center settings, read from the environment through validating helpers (backupcenter/env.py)."""

import os
from pathlib import Path

import dj_database_url
import plotly

from backupcenter.env import ConfigError, env_bool, env_int, env_list, env_str, env_url, secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("BACKUPCENTER_VAR_DIR", str(BASE_DIR / "var"))).resolve()

SECRET_KEY = secret_key("DJANGO_SECRET_KEY", VAR_DIR)
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_filters",
    "django_tables2",
    "django_htmx",
    "template_partials",
    "core",
    "inventory",
    "vaults",
    "policies",
    "monitoring",
    "policies.governance",
    "monitoring.reports",
    "backupcenter",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "backupcenter.urls"

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
                "core.context_processors.scope_bar",
            ],
        },
    },
]

WSGI_APPLICATION = "backupcenter.wsgi.application"

DATABASE_URL = env_url(
    "DATABASE_URL",
    f"sqlite:///{VAR_DIR / 'backupcenter.sqlite3'}",
    schemes={"sqlite", "postgres", "postgresql", "pgsql"},
)
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A busy timeout lets web, worker and beat share the one-file database without "database is locked".
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "overview"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# plotly.js ships inside the plotly wheel: served as static/plotly/plotly.min.js (no CDN).
STATICFILES_DIRS = [BASE_DIR / "static", ("plotly", Path(plotly.__file__).resolve().parent / "package_data")]
STATIC_ROOT = VAR_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True

# Secrets (connection passwords, repository passwords) are wrapped by keys in this keyring file,
# kept outside the database with mode 0600.
BACKUPCENTER_KEYRING = Path(env_str("BACKUPCENTER_KEYRING", str(VAR_DIR / "keyring.json")))
BACKUPCENTER_VAULT_ROOT = Path(env_str("BACKUPCENTER_VAULT_ROOT", str(VAR_DIR / "vaults")))
BACKUPCENTER_DEMO_DATA = Path(env_str("BACKUPCENTER_DEMO_DATA", str(VAR_DIR / "demo-data")))
BACKUPCENTER_RESTORE_ROOTS = env_list(
    "BACKUPCENTER_RESTORE_ROOTS", [str(VAR_DIR / "restores"), str(BACKUPCENTER_DEMO_DATA)]
)
# The restic engine and datasource modules read these from the environment; keep them under var/.
os.environ.setdefault("BACKUPCENTER_LOCK_DIR", str(VAR_DIR / "locks"))
os.environ.setdefault("BACKUPCENTER_STAGING_DIR", str(VAR_DIR / "staging"))
BACKUPCENTER_JOB_RETENTION_DAYS = env_int("BACKUPCENTER_JOB_RETENTION_DAYS", 365, minimum=1, maximum=36500)

CELERY_BROKER_URL = env_url("CELERY_BROKER_URL", "redis://127.0.0.1:6479/0", schemes={"redis", "rediss", "amqp"})
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = False
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 6 * 3600, minimum=60)
CELERY_TASK_TIME_LIMIT = CELERY_TASK_SOFT_TIME_LIMIT + 300
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Scheduled backups: at most this many active (queued or running) backups per vault and per host queue; 0 = no
# limit. The dispatcher defers the excess to its next tick.
BACKUPCENTER_MAX_BACKUPS_PER_VAULT = env_int("BACKUPCENTER_MAX_BACKUPS_PER_VAULT", 0, minimum=0)
BACKUPCENTER_MAX_BACKUPS_PER_HOST = env_int("BACKUPCENTER_MAX_BACKUPS_PER_HOST", 0, minimum=0)
BACKUPCENTER_DISCOVERY_MINUTES = env_int("BACKUPCENTER_DISCOVERY_MINUTES", 15, minimum=1, maximum=24 * 60)
CELERY_BEAT_SCHEDULE: dict = {
    "inventory-discovery": {"task": "inventory.tasks.discover_all", "schedule": BACKUPCENTER_DISCOVERY_MINUTES * 60.0},
    "dispatch-scheduled-backups": {
        "task": "policies.tasks.dispatch_scheduled_backups",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "enforce-retention": {"task": "policies.tasks.enforce_retention", "schedule": 3600.0},
    "reap-stale-jobs": {"task": "vaults.tasks.reap_stale_jobs", "schedule": 60.0},
    "purge-soft-deleted": {"task": "vaults.tasks.purge_soft_deleted", "schedule": 3600.0},
    "evaluate-compliance": {"task": "policies.governance.tasks.evaluate_compliance", "schedule": 3600.0},
    "send-scheduled-reports": {"task": "monitoring.reports.tasks.send_due_reports", "schedule": 300.0},
    "evaluate-metric-rules": {"task": "monitoring.tasks.evaluate_metric_rules", "schedule": 60.0},
    "retry-due-deliveries": {"task": "monitoring.tasks.retry_due_deliveries", "schedule": 60.0},
    "record-missed-outcomes": {"task": "monitoring.tasks.record_missed_outcomes", "schedule": 300.0},
    "purge-job-history": {"task": "monitoring.tasks.purge_job_history", "schedule": 24 * 3600.0},
}

# Changes to datasources, vaults, instances and policies re-evaluate compliance this many seconds later (one
# evaluation per burst of changes).
BACKUPCENTER_COMPLIANCE_DEBOUNCE_SECONDS = env_int("BACKUPCENTER_COMPLIANCE_DEBOUNCE_SECONDS", 60, minimum=0)
# Report exports with more rows than this run as a background job with a download link.
BACKUPCENTER_EXPORT_SYNC_ROWS = env_int("BACKUPCENTER_EXPORT_SYNC_ROWS", 5000, minimum=0)
# A PDF holds at most this many rows per table (CSV and XLSX hold every row).
BACKUPCENTER_PDF_MAX_ROWS = env_int("BACKUPCENTER_PDF_MAX_ROWS", 2000, minimum=10)

EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "backup-center@localhost")
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1, maximum=120)

# Monitoring: links in notifications, webhook retry backoff (base × 2^(attempt-1) seconds), and the bearer token
# that protects /metrics (empty = the endpoint is off).
BACKUPCENTER_BASE_URL = env_str("BACKUPCENTER_BASE_URL", "http://127.0.0.1:8000")
NOTIFY_RETRY_BASE_SECONDS = env_int("NOTIFY_RETRY_BASE_SECONDS", 30, minimum=0, maximum=3600)
METRICS_BEARER_TOKEN = env_str("METRICS_BEARER_TOKEN", "")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Backup Center API",
    "DESCRIPTION": "Inventory, vaults, backup policies, jobs and governance of a self-hosted Backup Center.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

DJANGO_TABLES2_TEMPLATE = "core/table.html"
DJANGO_TABLES2_PAGE_RANGE = 8

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

__all__ = ["ConfigError"]
