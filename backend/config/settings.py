"""Django settings, read from the environment. Every variable is documented in docs/configuration.md."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from zoneinfo import ZoneInfo

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.env import env_bool, env_int, env_list, env_parsed, env_str

BASE_DIR = Path(__file__).resolve().parent.parent  # backend/
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = PROJECT_DIR / "var"

DEBUG = env_bool("DEBUG", False)

_INSECURE_DEV_KEY = "insecure-development-key-do-not-use-in-production"
SECRET_KEY = env_str("SECRET_KEY", _INSECURE_DEV_KEY if DEBUG else "")
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])


def _origins(value: str) -> list[str]:
    origins = [origin.strip() for origin in value.split(",") if origin.strip()]
    for origin in origins:
        if not origin.startswith(("https://", "http://")) or origin.count("/") != 2:
            raise ValueError(
                f"{origin!r} is not an origin; write scheme and host, e.g. https://monitor.example.com"
            )
    return origins


# Origins (scheme://host[:port]) trusted for unsafe requests and WebSocket connections besides the
# request's own, e.g. when a proxy serves the app under another host name.
CSRF_TRUSTED_ORIGINS = env_parsed("CSRF_TRUSTED_ORIGINS", "", _origins, "list of origins")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "apps.sites",
    "apps.mqtt",
    "apps.alerts",
    "apps.analytics",
    "apps.web",
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
]

ROOT_URLCONF = "config.urls"

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

WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"


def _database(url: str) -> dj_database_url.DBConfig:
    config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    engine = config["ENGINE"]
    if engine == "django.db.backends.sqlite3":
        name = config["NAME"]
        if name and name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
        config["CONN_MAX_AGE"] = 0 if name == ":memory:" else config["CONN_MAX_AGE"]
        config["OPTIONS"] = {
            # WAL lets the web server read while the MQTT worker writes; IMMEDIATE takes the write
            # lock up front so two writers queue on the busy timeout instead of failing to upgrade.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
        }
    elif engine == "django.db.backends.postgresql":
        config["CONN_HEALTH_CHECKS"] = True
        # Server-side binding: psycopg sends parameters apart from the SQL (no quoting of every
        # value in Python) and pipelines executemany; the ingest path was 3-4x slower without it.
        config["OPTIONS"] = {"server_side_binding": True}
    else:
        raise ValueError(f"unsupported database engine {engine}; use sqlite:// or postgres://")
    return config


DATABASES = {
    "default": env_parsed("DATABASE_URL", f"sqlite:///{VAR_DIR / 'db.sqlite3'}", _database, "database URL")
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Login throttling (config/login_throttle.py): LOGIN_FAILURE_LIMIT wrong passwords within
# LOGIN_FAILURE_WINDOW seconds for one username from one address lock that pair out for
# LOGIN_LOCKOUT_SECONDS, the right password included.
AUTHENTICATION_BACKENDS = ["config.login_throttle.ThrottledModelBackend"]
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1, maximum=1000)
LOGIN_FAILURE_WINDOW = env_int("LOGIN_FAILURE_WINDOW", 60, minimum=1, maximum=86400)
LOGIN_LOCKOUT_SECONDS = env_int("LOGIN_LOCKOUT_SECONDS", 300, minimum=1, maximum=86400)

# With Redis the web server and the MQTT worker can run as separate processes (the pub/sub layer is
# the lighter one); without it the in-memory layer only reaches consumers of the same process.
REDIS_URL = env_str("REDIS_URL", "")
CHANNEL_LAYERS = {
    "default": {
        # channels_redis' pub/sub layer, retrying once on a connection lost in a Redis blip.
        "BACKEND": "apps.mqtt.realtime.layers.RedisChannelLayer",
        # The prefix keeps installs (and test runs) that share one Redis apart.
        "CONFIG": {"hosts": [REDIS_URL], "prefix": env_str("CHANNEL_LAYER_PREFIX", "dlmon")},
    }
    if REDIS_URL
    # Long-lived sockets (a wall dashboard, the worker's control channel) must not fall out of their
    # groups after the in-memory layer's default day.
    else {"BACKEND": "apps.mqtt.realtime.layers.InProcessChannelLayer", "CONFIG": {"group_expiry": 10**9}}
}
# Run the MQTT worker inside the web server's event loop (single-process mode: `make demo`, small
# installs). Default: on without Redis, since the in-memory layer cannot cross processes.
MQTT_WORKER_IN_WEB = env_bool("MQTT_WORKER_IN_WEB", not REDIS_URL)
# The cache holds login failures and API request counts: in Redis they are shared by every web
# process; in memory each process counts alone.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": env_str("CHANNEL_LAYER_PREFIX", "dlmon"),
    }
    if REDIS_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
}
# /metrics answers "Authorization: Bearer <token>" and staff sessions; without a token, in DEBUG anyone
# (`check --deploy` warns, dlmon.W001, when it is unset in production).
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
# `run_mqtt` serves its own Prometheus metrics here (0: off).
MQTT_WORKER_METRICS_PORT = env_int("MQTT_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
MQTT_WORKER_METRICS_ADDRESS = env_str("MQTT_WORKER_METRICS_ADDRESS", "127.0.0.1")
# Where a worker stopped while the database is away leaves what it could not write (versioned JSON
# files), written by the next worker that starts before anything else (apps/mqtt/worker/runtime.py).
MQTT_SPOOL_DIR = Path(env_str("MQTT_SPOOL_DIR", str(VAR_DIR / "spool")))
# Ownership of the connections between several `run_mqtt` workers (apps/mqtt/worker/leases.py): a
# lease in the database, renewed every third of this; a dead worker's connections move after it.
MQTT_LEASE_SECONDS = env_int("MQTT_LEASE_SECONDS", 15, minimum=3, maximum=3600)
# Uptime analytics (apps/analytics): raw connection logs and sensor status changes older than this are
# pruned by `rollup_analytics` (hourly roll-ups keep windows exact to the hour), hourly roll-ups older
# than the third (windows starting before it are exact to the day), daily roll-ups and heartbeat
# counters older than the second.
ANALYTICS_RAW_RETENTION_DAYS = env_int("ANALYTICS_RAW_RETENTION_DAYS", 35, minimum=2, maximum=3650)
ANALYTICS_ROLLUP_RETENTION_DAYS = env_int("ANALYTICS_ROLLUP_RETENTION_DAYS", 400, minimum=2, maximum=36500)
ANALYTICS_HOURLY_RETENTION_DAYS = env_int(
    "ANALYTICS_HOURLY_RETENTION_DAYS", min(90, ANALYTICS_ROLLUP_RETENTION_DAYS), minimum=2, maximum=36500
)
if not ANALYTICS_RAW_RETENTION_DAYS <= ANALYTICS_HOURLY_RETENTION_DAYS <= ANALYTICS_ROLLUP_RETENTION_DAYS:
    # Hourly rows are what raw rows are rolled into, and what daily rows are summed from.
    raise ImproperlyConfigured(
        f"ANALYTICS_HOURLY_RETENTION_DAYS={ANALYTICS_HOURLY_RETENTION_DAYS} must be between "
        f"ANALYTICS_RAW_RETENTION_DAYS={ANALYTICS_RAW_RETENTION_DAYS} and "
        f"ANALYTICS_ROLLUP_RETENTION_DAYS={ANALYTICS_ROLLUP_RETENTION_DAYS}."
    )
# Seconds between the MQTT worker's roll-up runs (0: not in the worker; run `rollup_analytics` by cron).
ANALYTICS_ROLLUP_INTERVAL = env_int("ANALYTICS_ROLLUP_INTERVAL", 60, minimum=0, maximum=3600)
# Alerts (apps/alerts): the evaluator reads the new state changes every ALERTS_INTERVAL seconds, in
# the worker unless ALERTS_IN_WORKER=0 (then `manage.py run_alerts` runs it). Email goes through
# Django's SMTP backend with these settings.
ALERTS_IN_WORKER = env_bool("ALERTS_IN_WORKER", True)
ALERTS_INTERVAL = env_int("ALERTS_INTERVAL", 5, minimum=1, maximum=300)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "alerts@localhost")
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = 5


def _rate(value: str) -> str:
    number, _, period = value.partition("/")
    if not (number.isdigit() and int(number) > 0 and period in {"s", "sec", "min", "hour", "day"}):
        raise ValueError("write requests per period, e.g. 600/min (periods: s, min, hour, day)")
    return value


# The REST API (apps/mqtt/api/): token or session authentication, authenticated users only (each
# endpoint also filters by the sites the user may see), pages of 50 (?page_size= up to 500).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous call gets 401 with "WWW-Authenticate: Token".
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "apps.mqtt.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # JSON only in production: the browsable API's HTML pages are for development.
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        *(["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    ],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_parsed("API_THROTTLE_ANON", "60/min", _rate, "rate (requests/s|min|hour|day)"),
        "user": env_parsed("API_THROTTLE_USER", "600/min", _rate, "rate (requests/s|min|hour|day)"),
    },
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Datalogger monitoring API",
    "DESCRIPTION": "Sites, their MQTT connections, sensors with their last readings, connection logs and "
    "system information of structural-monitoring dataloggers. Every endpoint shows only the sites the "
    "user may see; writes and start/stop/restart are for staff. Authenticate with a session or with "
    "the header `Authorization: Token YOUR-KEY`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and its documentation pages: for signed-in users (session or API token) in production.
    "SERVE_PERMISSIONS": [
        "rest_framework.permissions.AllowAny" if DEBUG else "rest_framework.permissions.IsAuthenticated"
    ],
    # Separate request and response components, so write-only secrets appear in requests only.
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api",
    "ENUM_NAME_OVERRIDES": {
        "ConnectionStatusEnum": "apps.mqtt.models.MqttConnection.Status",
        "SensorStatusEnum": "apps.mqtt.models.SensorDevice.Status",
        "HeartbeatStateEnum": "apps.mqtt.models.HeartbeatState",
        "EventTypeEnum": "apps.mqtt.models.ConnectionLog.EventType",
        "MessageTypeEnum": "apps.mqtt.models.MqttTopic.MessageType",
    },
    # Swagger UI and ReDoc from the installed sidecar package, not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_parsed("TIME_ZONE", "UTC", lambda name: str(ZoneInfo(name)), "IANA time zone")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# WhiteNoise serves static files from the app server; in DEBUG straight from the apps (no
# collectstatic needed), in production from STATIC_ROOT after `manage.py collectstatic`.
WHITENOISE_USE_FINDERS = DEBUG
# The React app's build (frontend/, `npm run build`): its files are served under /static/app/ and
# its index.html by apps/web for every route the app owns.
FRONTEND_DIST = Path(env_str("FRONTEND_DIST", str(PROJECT_DIR / "frontend" / "dist")))
STATICFILES_DIRS = [("app", FRONTEND_DIST)] if FRONTEND_DIST.is_dir() else []
# Vite names its assets with a content hash (index-3f9a1c2b.js): browsers may cache them for ever.
WHITENOISE_IMMUTABLE_FILE_TEST = r"^.+[.-][0-9a-zA-Z_-]{8,12}\.(?:js|css|woff2?|svg|png)$"

LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:app"
LOGOUT_REDIRECT_URL = "web:login"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}


def _fernet_keys(value: str) -> list[str]:
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        if not DEBUG:
            raise ValueError("it must be set when DEBUG is off (generate one with `make secret-key`)")
        # Development only: a key derived from SECRET_KEY, so the demo works without setup.
        digest = hashlib.sha256(("field-encryption:" + SECRET_KEY).encode()).digest()
        return [base64.urlsafe_b64encode(digest).decode()]
    for key in keys:
        Fernet(key)  # raises on a malformed key
    return keys


# Fernet keys that encrypt secrets at rest (broker passwords, client keys). Comma-separated: the
# first encrypts, all decrypt, so a key can be rotated without losing stored secrets.
FIELD_ENCRYPTION_KEYS = env_parsed("FIELD_ENCRYPTION_KEYS", "", _fernet_keys, "list of Fernet keys")


def _mqtt_settings() -> dict[str, int]:
    reconnect = env_int("MQTT_RECONNECT_DELAY", 5, minimum=1, maximum=3600)
    max_reconnect = env_int("MQTT_MAX_RECONNECT_DELAY", 300, minimum=1, maximum=86400)
    if max_reconnect < reconnect:
        raise ImproperlyConfigured(
            f"MQTT_MAX_RECONNECT_DELAY={max_reconnect} is below MQTT_RECONNECT_DELAY={reconnect}."
        )
    sqlite = DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3"
    writers = env_int("MQTT_INGEST_WRITERS", 1 if sqlite else 2, minimum=1, maximum=16)
    if sqlite and writers > 1:
        raise ImproperlyConfigured(
            f"MQTT_INGEST_WRITERS={writers} needs PostgreSQL: SQLite writes one transaction at a time."
        )
    max_payload = env_int("MQTT_MAX_PAYLOAD_BYTES", 1024 * 1024, minimum=1024, maximum=256 * 1024 * 1024)
    # The ingest queue's bound in (payload) bytes, the whole worker's: parsed, a heartbeat takes about
    # 4 times its payload in memory.
    queue_bytes = env_int("MQTT_QUEUE_MAX_BYTES", 64 * 1024 * 1024, minimum=1024 * 1024, maximum=2**34)
    if queue_bytes < 8 * max_payload:
        raise ImproperlyConfigured(
            f"MQTT_QUEUE_MAX_BYTES={queue_bytes} is below 8 x MQTT_MAX_PAYLOAD_BYTES={max_payload}: "
            "the queue must hold a few of the largest payloads per site."
        )
    return {
        "HEARTBEAT_TIMEOUT": env_int("MQTT_HEARTBEAT_TIMEOUT", 30, minimum=1, maximum=86400),
        "MAX_CONSECUTIVE_MISSES": env_int("MQTT_MAX_CONSECUTIVE_MISSES", 3, minimum=1, maximum=1000),
        "DEFAULT_QOS": env_int("MQTT_DEFAULT_QOS", 0, minimum=0, maximum=2),
        "RECONNECT_DELAY": reconnect,
        "MAX_RECONNECT_DELAY": max_reconnect,
        # The database allows at most 3 slots per sensor (see SensorData), so this is 1..3.
        "SENSOR_DATA_RETENTION": env_int("MQTT_SENSOR_DATA_RETENTION", 3, minimum=1, maximum=3),
        # Beyond the seed: how often the worker re-reads the connections, and the payload cap.
        "RECONCILE_INTERVAL": env_int("MQTT_RECONCILE_INTERVAL", 5, minimum=1, maximum=3600),
        "MAX_PAYLOAD_BYTES": max_payload,
        "QUEUE_MAX_BYTES": queue_bytes,
        # Received messages each MQTT client holds for its task; when full the oldest goes (a newer
        # heartbeat supersedes it), but a burst (a replayed buffer) fits. Unbounded, an overloaded
        # worker held 80 MB of them after a minute, and more every second.
        "CLIENT_QUEUE_MESSAGES": env_int("MQTT_CLIENT_QUEUE_MESSAGES", 100, minimum=1, maximum=100_000),
        # Writer threads of the worker, each with its own database connection and its share of the
        # sites (site id modulo the count): PostgreSQL runs their transactions side by side.
        "INGEST_WRITERS": writers,
    }


MQTT_SETTINGS = _mqtt_settings()
# Sensors a site may have: new device names beyond it are rejected and counted (a publisher on a
# site's topic cannot make sensors without limit); the existing ones keep working.
MQTT_MAX_SENSORS_PER_SITE = env_int("MQTT_MAX_SENSORS_PER_SITE", 1000, minimum=1, maximum=100_000)


def _client_id_instance(value: str) -> str:
    """The install's part of every MQTT client id (``<prefix>_<instance>_<site id>``), so two installs
    sharing a broker never use one client id (the broker would close one for the other, in a loop).
    By default a hash of SECRET_KEY and the database's name: both stable across restarts and shared
    by every process of one install, and SECRET_KEY differs between installs (the name alone would
    not: every install may call its database ``dlmon``; with the development key, the name tells
    two checkouts apart). Only the 8 hex digits of a hash are used, which reveal nothing of the key."""
    if not value:
        source = f"mqtt-client-id:{SECRET_KEY}:{DATABASES['default']['NAME']}"
        return hashlib.sha256(source.encode()).hexdigest()[:8]
    if not (len(value) <= 32 and value.isascii() and value.replace(".", "").replace("-", "").isalnum()):
        raise ValueError("use 1 to 32 letters, digits, '.' or '-'")
    return value


MQTT_CLIENT_ID_INSTANCE = env_parsed("MQTT_CLIENT_ID_INSTANCE", "", _client_id_instance, "client id part")


def _log_level(value: str) -> str:
    level = value.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ValueError("use DEBUG, INFO, WARNING or ERROR")
    return level


def _log_format(value: str) -> str:
    if value not in {"plain", "json"}:
        raise ValueError("use plain or json")
    return value


LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
        # One JSON object per line (time, level, logger, message, exception): for log collectors.
        "json": {"()": "config.logging.JsonFormatter"},
    },
    # A warning or error repeated within a minute is written once, then counted (config/logging.py).
    "filters": {"repeats": {"()": "config.logging.RepeatedErrorFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": env_parsed("LOG_FORMAT", "plain", _log_format, "log format"),
            "filters": ["repeats"],
        },
    },
    "root": {
        "handlers": ["console"],
        "level": env_parsed("LOG_LEVEL", "INFO", _log_level, "log level"),
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", True)


def _proxy_ssl_header(value: str) -> tuple[str, str] | None:
    if not value:
        return None
    header, _, https_value = (part.strip() for part in value.partition(","))
    if not (header.startswith("HTTP_") and header == header.upper() and "-" not in header and https_value):
        raise ValueError(
            "write the header as Django names it and the value meaning HTTPS, "
            "e.g. HTTP_X_FORWARDED_PROTO,https"
        )
    return header, https_value


# Behind a TLS-terminating proxy: the header (and its value) by which the proxy says the request came
# over HTTPS. Set it only when the proxy always sets or strips that header (see docs/configuration.md).
SECURE_PROXY_SSL_HEADER = env_parsed("SECURE_PROXY_SSL_HEADER", "", _proxy_ssl_header, "proxy SSL header")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Health checks and scrapers inside the network call over plain HTTP; a redirect would fail them.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0, minimum=0, maximum=2 * 365 * 86400)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if SECURE_HSTS_PRELOAD and not (SECURE_HSTS_INCLUDE_SUBDOMAINS and SECURE_HSTS_SECONDS >= 365 * 86400):
    raise ImproperlyConfigured(
        "SECURE_HSTS_PRELOAD=true needs SECURE_HSTS_INCLUDE_SUBDOMAINS=true and SECURE_HSTS_SECONDS of at "
        "least 31536000 (a year): the browsers' preload lists require both."
    )
