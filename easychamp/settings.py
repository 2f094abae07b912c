"""EasyChamp settings: everything comes from environment variables with safe defaults.

See the configuration table in README.md.
"""

import os
from pathlib import Path

from easychamp.database import MAX_STATEMENT_TIMEOUT, Pool, database_from_url
from easychamp.env import (
    env_bool,
    env_int,
    env_list,
    env_log_level,
    env_number,
    env_rate,
    env_seconds,
)

BASE_DIR = Path(__file__).resolve().parent.parent


DEBUG = env_bool("DEBUG")
SECRET_KEY = os.environ.get("SECRET_KEY") or "insecure-dev-only-secret-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

# HTTPS: on unless DEBUG (`manage.py check --deploy` is clean with DEBUG=0, a SECRET_KEY
# and ALLOWED_HOSTS). Behind a proxy that terminates TLS, name the header it sets
# (SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto) so requests it received over HTTPS count
# as secure; SECURE_SSL_REDIRECT=0 when the proxy redirects to HTTPS itself.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
_proxy_ssl_header = os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip()
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SILENCED_SYSTEM_CHECKS = (
    # Switched off on purpose: the proxy in front redirects to HTTPS.
    ["security.W008"] if os.environ.get("SECURE_SSL_REDIRECT") and not SECURE_SSL_REDIRECT else []
)

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
]
# The benchmarks (`python manage.py bench`) and their probe subscription: installed only
# where a benchmark or the test suite runs (manage.py bench, its worker processes and
# tests/settings.py set EASYCHAMP_BENCH=1), never in production.
BENCH_INSTALLED = env_bool("EASYCHAMP_BENCH")
if BENCH_INSTALLED:
    INSTALLED_APPS.append("bench")

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "events.middleware.CorrelationIdMiddleware",
    "easychamp.unavailable.DatabaseUnavailableMiddleware",
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
# PostgreSQL connections come from a pool per process (see README, "Configuration"):
# WEB_CONCURRENCY x DATABASE_POOL_MAX_SIZE, plus the workers', must stay below the
# server's max_connections.
DATABASE_URL = os.environ.get("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASE_POOL = (
    Pool(
        min_size=env_int("DATABASE_POOL_MIN_SIZE", 1, minimum=0),
        max_size=env_int("DATABASE_POOL_MAX_SIZE", 8, minimum=1),
        timeout=env_number("DATABASE_POOL_TIMEOUT", 5, 0.001, 3600, "seconds"),
        check_idle=env_seconds("DATABASE_POOL_CHECK_IDLE", 1, 3600),
    )
    if env_bool("DATABASE_POOL", default=True)
    else None
)
# Threads per web process serving requests (easychamp.asgi): each holds at most one
# database connection, so as many as the pool has.
WEB_THREADS = env_int("WEB_THREADS", DATABASE_POOL.max_size if DATABASE_POOL else 8, minimum=1)
DATABASES = {
    "default": database_from_url(
        DATABASE_URL,
        prepared_statements=env_bool("DATABASE_PREPARED", default=True),
        pool=DATABASE_POOL,
        # Seconds a statement may run or wait for a lock (PostgreSQL). The web processes
        # default to 30 (easychamp.web); workers, beat and management commands
        # (migrations, rebuilds) to none.
        statement_timeout=env_seconds(
            "DATABASE_STATEMENT_TIMEOUT", default=0, maximum=MAX_STATEMENT_TIMEOUT
        ),
    )
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Usernames are matched as sign-up stored them (NFKC), see sagas.backends. Django's own
# backend stays listed: sessions signed in before record it, and stay valid.
AUTHENTICATION_BACKENDS = [
    "sagas.backends.NormalisedUsernameBackend",
    "django.contrib.auth.backends.ModelBackend",
]

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

# The process that commits live events pushes them at once (championships.live); the
# live pusher subscription pushes what it did not.
LIVE_PUSH_ON_COMMIT = env_bool("LIVE_PUSH_ON_COMMIT", default=True)

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
        # Django's, with one connection pool per process (see easychamp.cache).
        "BACKEND": "easychamp.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "easychamp",
        "TIMEOUT": 300,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
# How long a process stops asking a Redis that did not answer (easychamp.redis_guard).
REDIS_DOWN_SECONDS = env_seconds("REDIS_DOWN_SECONDS", 2, 3600)

# Celery. Reliability choices are explained in README.md ("Delivery").
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE") or "celery"
# Celery's Django fixup closes the database connection around every task unless this is
# set; without a pool, reconnecting (and re-preparing statements) cost more than a whole
# delivery. easychamp.celery recycles connections Django's way instead: back to the pool
# after each task (or kept by CONN_MAX_AGE without one).
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
    # Sagas: commands whose task was lost are sent again; sagas past their deadline
    # run their timeout step.
    "sagas.dispatch_commands": {
        "task": "sagas.dispatch_commands",
        "schedule": 2.0,
        "options": {"expires": 5},
    },
    "sagas.time_out": {"task": "sagas.time_out", "schedule": 2.0, "options": {"expires": 5}},
}
# Wake-ups (docs/wakeups.md). Each commit hands its stream to the process's wake-up
# notifier; off, only the sweeper delivers (a few seconds later), e.g. for a bulk load.
EVENTS_WAKE_ON_COMMIT = env_bool("EVENTS_WAKE_ON_COMMIT", default=True)
# At most this many helper drains run beside a queue's drain owner when streams queue up
# (one per 4 dirty streams): more worker processes than that never drain one queue.
EVENTS_DRAIN_MAX_HELPERS = env_int("EVENTS_DRAIN_MAX_HELPERS", 8, minimum=0)
IDEMPOTENCY_TTL_HOURS = env_int("IDEMPOTENCY_TTL_HOURS", 24, minimum=1, maximum=24 * 365)

# Email: the console in development (DEBUG), SMTP (EMAIL_HOST, ...) otherwise, or any
# backend named by EMAIL_BACKEND (tests' worker processes write files: EMAIL_FILE_PATH).
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND") or (
    "django.core.mail.backends.console.EmailBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend"
)
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH") or None
EMAIL_HOST = os.environ.get("EMAIL_HOST") or "localhost"
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL") or "EasyChamp <noreply@easychamp.local>"

# Payments (sagas.payments): the provider adapter, the webhook's shared secret and
# timestamp tolerance, and the circuit breaker around the provider (state in Redis).
PAYMENTS_PROVIDER = os.environ.get("PAYMENTS_PROVIDER") or "sagas.payments.fake.FakeProvider"
PAYMENTS_WEBHOOK_SECRET = (
    os.environ.get("PAYMENTS_WEBHOOK_SECRET") or "insecure-dev-only-webhook-secret"
)
PAYMENTS_WEBHOOK_TOLERANCE_SECONDS = env_number(
    "PAYMENTS_WEBHOOK_TOLERANCE_SECONDS", 300, 1, 86400, "seconds"
)
PAYMENTS_FAKE_WEBHOOK_URL = os.environ.get("PAYMENTS_FAKE_WEBHOOK_URL") or (
    f"http://127.0.0.1:{os.environ.get('PORT') or 8000}/api/v1/webhooks/payments/"
)
PAYMENTS_BREAKER_NAME = os.environ.get("PAYMENTS_BREAKER_NAME") or "payments"
PAYMENTS_BREAKER_FAIL_MAX = env_int("PAYMENTS_BREAKER_FAIL_MAX", 3, minimum=1)
PAYMENTS_BREAKER_RESET_SECONDS = env_seconds("PAYMENTS_BREAKER_RESET_SECONDS", 30, 86400)
# How long an entry waits before asking a provider that failed (breaker still closed).
PAYMENTS_RETRY_SECONDS = env_seconds("PAYMENTS_RETRY_SECONDS", 5, 86400)

# At most ten years ("never expire" in practice; longer overflows a date).
TOKEN_TTL_HOURS = env_number("TOKEN_TTL_HOURS", 24 * 30, 0.001, 24 * 3653, "hours")
# How long a checked token is trusted from the shared cache (revocation is immediate).
TOKEN_CACHE_SECONDS = env_int("TOKEN_CACHE_SECONDS", 60, minimum=0, maximum=86400)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "championships.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    # Counted in the shared cache (Redis), so across all web processes; see
    # championships.api.throttling. "off" turns a scope off.
    "DEFAULT_THROTTLE_CLASSES": [
        "championships.api.throttling.AnonThrottle",
        "championships.api.throttling.UserThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_THROTTLE_ANON", "600/min"),
        "user": env_rate("API_THROTTLE_USER", "3000/min"),
        "login": env_rate("API_THROTTLE_LOGIN", "10/min"),
    },
    # The server (uvicorn) already took the client address from X-Forwarded-For, and
    # only from the proxies in FORWARDED_ALLOW_IPS: DRF must not read the header again,
    # or any client could pick the address it is throttled as.
    "NUM_PROXIES": 0,
    "DEFAULT_PARSER_CLASSES": ["championships.api.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["championships.api.renderers.JSONRenderer"],
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
        "Authenticate with `Authorization: Token <token>` (POST /api/v1/auth/token/; "
        "tokens expire, see `expires_at`, and POST /api/v1/auth/token/revoke/ revokes "
        "one). Requests are rate-limited per user, per anonymous address and, for "
        "logins, per address: 429 with `Retry-After`. "
        'ETags are stream versions (strong tags like `"3"`): send `If-Match` on writes '
        "(412 when stale) and `If-None-Match` on reads (304). POSTs accept an "
        "`Idempotency-Key`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # 3.1: a nullable reference is `oneOf: [{$ref}, {type: null}]`; 3.0.3 wrote
    # `allOf + nullable` without a type, which strict validators read as not nullable.
    "OAS_VERSION": "3.1.0",
    # Swagger UI's assets come from the drf-spectacular-sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_log_level()},
}
