"""EasyChamp settings: everything comes from environment variables with safe defaults.

See the configuration table in README.md.
"""

import os
from pathlib import Path

from easychamp.database import database_from_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY") or "insecure-dev-only-secret-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "events",
    "championships",
    "sagas",
    "bench",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "events.middleware.CorrelationIdMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "easychamp.urls"
ASGI_APPLICATION = "easychamp.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# Database: SQLite (WAL, immediate transactions) unless DATABASE_URL says otherwise.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": database_from_url(
        DATABASE_URL, prepared_statements=env_bool("DATABASE_PREPARED", default=True)
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Serve straight from the apps' static folders when collectstatic has not run.
WHITENOISE_USE_FINDERS = True
LOGIN_URL = "/admin/login/"

# Redis: channel layer, cache and (by default) the Celery broker.
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL

CHANNEL_LAYERS = {
    "default": {
        # channels-redis's pub/sub layer: a group send is one PUBLISH that each web
        # process fans out to its own pages (the list-based layer took four round trips
        # and a Lua script per send: about 8 ms from send to page against 2 ms). Both
        # deliver at most once; pages catch up from the event store (docs/live.md). The
        # list-based layer's 5 s blocking pops also raced redis-py's 5 s socket timeout,
        # killing idle consumers under load.
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "easychamp",
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}

# Celery. Reliability choices are explained in README.md ("Delivery").
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or "celery"
# Celery's Django fixup closes the database connection around every task unless this is
# set; reconnecting (and re-preparing statements) cost more than a whole delivery.
# Connections live by CONN_MAX_AGE instead (easychamp.celery recycles them Django's way).
CELERY_DB_REUSE_MAX = 1_000_000
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {
    # Longer than any countdown we schedule (retry backoff is capped well below it),
    # so Redis does not redeliver a task that is merely waiting for its ETA.
    "visibility_timeout": 3600,
    # A producer must not hang when the broker is away: the wake-up is best effort.
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
    "socket_connect_timeout": 1,
    "socket_timeout": 5,
}
CELERY_TASK_PUBLISH_RETRY = False
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    # Re-wakes subscriptions that are behind (a lost wake-up only delays delivery).
    "events.sweep": {"task": "events.sweep", "schedule": 5.0, "options": {"expires": 10}},
    # Hands out feed positions to new events (feed readers do it too, before they read).
    "events.sequence_feed": {
        "task": "events.sequence_feed",
        "schedule": 1.0,
        "options": {"expires": 5},
    },
    "championships.purge_idempotency_records": {
        "task": "championships.purge_idempotency_records",
        "schedule": 3600.0,
    },
}
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_TTL_HOURS") or 24)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "championships.api.pagination.Pagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "championships.api.errors.exception_handler",
    # ?format= filters championships by format; content negotiation uses Accept only.
    "URL_FORMAT_OVERRIDE": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "EasyChamp API",
    "DESCRIPTION": (
        "Championships, teams, matches, standings and the event feed for mobile clients. "
        "Authenticate with `Authorization: Token <token>` (POST /api/v1/auth/token/). "
        'ETags are stream versions (strong tags like `"3"`): send `If-Match` on writes '
        "(412 when stale) and `If-None-Match` on reads (304). POSTs accept an "
        "`Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI's assets come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
