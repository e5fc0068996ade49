"""Heliograph settings, read from the environment.

With no variables set this is the *embedded default* used by `make run`: SQLite in the
project folder, local-memory cache, Celery tasks run in-process and email written to
`var/mail/`. Production sets DATABASE_URL, REDIS_URL, SECRET_KEY, … (see README.md).
"""

import ipaddress
import os
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env(name, default=""):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in ("1", "true", "yes", "on"):
        return True
    if value.lower() in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}")


def env_int(name, default):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}") from None


def env_list(name, default=()):
    value = os.environ.get(name)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


# Without a SECRET_KEY we are the embedded default, which is a development setup.
DEBUG = env_bool("DEBUG", default=not env("SECRET_KEY"))
SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "django-insecure-embedded-default-do-not-use-in-production"  # noqa: S105

SITE_URL = env("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = env("SITE_NAME", "Heliograph")
# Pages are also served on <page-slug>.<PUBLIC_BASE_DOMAIN> when this is set.
PUBLIC_BASE_DOMAIN = env("PUBLIC_BASE_DOMAIN").lower().strip(".")

# The hosts of the main site (console, accounts, admin, /p/<slug>/). Page hosts (subdomains
# of PUBLIC_BASE_DOMAIN and custom domains) are checked against the Page table by
# status.hosts.HostRoutingMiddleware, which answers 404 for every other host. Django's own
# check is therefore opened up; the middleware is first in the chain so nothing runs before it.
SITE_HOSTS = env_list(
    "ALLOWED_HOSTS",
    [urlsplit(SITE_URL).hostname or "127.0.0.1"]
    + (["localhost", "127.0.0.1", "[::1]"] if DEBUG else []),
)
ALLOWED_HOSTS = ["*"]

INSTALLED_APPS = [
    # The admin, as the platform admin site (status/admin_site.py).
    "status.admin_site.PlatformAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    # Two-factor authentication (status/twofactor.py): authenticator apps and recovery codes.
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "csp",
    "django_prometheus",
    "status",
    "incidents",
    "notifications",
]

MIDDLEWARE = [
    # Behind our own proxies, the visitor's address from X-Forwarded-For (TRUSTED_PROXIES).
    "status.middleware.TrustedProxyMiddleware",
    # The request id and the one log line of every request (status/requestlog.py), and
    # django-prometheus's request counters (its After middleware is last).
    "status.requestlog.RequestLogMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # First, so that every answer of the middleware below it (an unknown host's 404, a refused
    # request, a static file) carries the policy too.
    "csp.middleware.CSPMiddleware",
    # /healthz and /readyz, on every host, before host routing (status/health.py).
    "status.health.HealthCheckMiddleware",
    # PostgreSQL unreachable: 503 with a clear message, never a 500 (status/middleware.py).
    "status.middleware.DatabaseOutageMiddleware",
    "status.hosts.HostRoutingMiddleware",
    "status.middleware.RefuseNulMiddleware",
    # POST /hooks/<token>/ (the busiest path, bench/alerts.py) answered here, without the
    # middleware below it has no use for (incidents/hooks.py).
    "incidents.hooks.HookMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # request.user.is_verified(): signed in with a second factor (django-otp); then the
    # accounts' rules: 2FA and single sign-on required where they are, sessions recorded.
    "django_otp.middleware.OTPMiddleware",
    "status.accounts_views.AccountSecurityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "status.htmx.SubmitOnceMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into its page (status/auth.py).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Sign-in lockout (status/auth.py): this many failures for one account or from one address
# within the lockout time lock it out for that long; a success starts the count again.
AUTHENTICATION_BACKENDS = [
    "status.auth.SignInLockout",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("SIGN_IN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("SIGN_IN_LOCKOUT_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = ["ip_address", "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# Two-factor authentication (status/twofactor.py): the name authenticator apps show. With DEBUG
# off, platform staff need it for /admin/ (there is no switch to turn that off).
OTP_TOTP_ISSUER = SITE_NAME
# Platform staff may delete a person's devices in the admin (to reset two-factor), never read
# their keys or recovery codes.
OTP_ADMIN_HIDE_SENSITIVE_DATA = True
ADMIN_REQUIRES_TWO_FACTOR = not DEBUG
# Single sign-on (status/sso.py): tenants' OpenID providers must be https on public addresses;
# this lets local providers on http and private addresses through (development and tests).
SSO_ALLOW_PRIVATE_ISSUERS = env_bool("SSO_ALLOW_PRIVATE_ISSUERS", False)

ROOT_URLCONF = "config.urls"
PAGE_HOST_URLCONF = "config.urls_page"
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
                "status.context_processors.site",
            ],
            "builtins": ["template_partials.templatetags.partials"],
        },
    },
]

# Database: DATABASE_URL (postgres://user:pass@host:5432/name) or SQLite in the project folder.
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{VAR_DIR / 'heliograph.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable server costs a request this many seconds at most, then a 503.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env_int("DB_CONNECT_TIMEOUT", 3)
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The DNS server asked for custom domains' TXT records ("host" or "host:port"); empty for the
# system's resolver.
DNS_RESOLVER = env("DNS_RESOLVER", "")

REDIS_URL = env("REDIS_URL")
# The cache may live in another Redis database or instance than the broker (REDIS_CACHE_URL),
# so that it can evict (maxmemory, allkeys-lru) while the broker keeps every message.
REDIS_CACHE_URL = env("REDIS_CACHE_URL", REDIS_URL)
# Public pages: how long each process may trust what it read from the shared cache (see
# status/pagecache.py). Only useful in front of Redis; the local-memory cache is in-process.
PAGE_CACHE_LOCAL_SECONDS = float(env("PAGE_CACHE_LOCAL_SECONDS", "1" if REDIS_CACHE_URL else "0"))
# Behind deploy/nginx.conf's micro-cache, served by gunicorn's sync workers: pad the answers nginx
# keeps so that their bodies start on a page in its cache files (config/cache_alignment.py).
NGINX_CACHE_ALIGN = env_bool("NGINX_CACHE_ALIGN", False)
# Redis is an accelerator: a cache call waits at most this long (seconds), and after a failure
# the cache is left alone this long, pages rendering from the database (config/cache.py).
REDIS_SOCKET_TIMEOUT = float(env("REDIS_SOCKET_TIMEOUT", "0.25"))
CACHE_RETRY_SECONDS = float(env("CACHE_RETRY_SECONDS", "5"))
if REDIS_CACHE_URL:
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": REDIS_CACHE_URL,
            "KEY_PREFIX": "heliograph",
            "OPTIONS": {
                "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
                "socket_timeout": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "manage:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
# The languages public pages, subscribe pages and notifications speak (status/languages.py);
# the console stays English. Translations: locale/<lang>/LC_MESSAGES/django.po.
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("fr", "Français"),
    ("de", "Deutsch"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# Email: EMAIL_URL (smtp://user:pass@host:587, smtps://… for implicit TLS, smtp+tls://… for
# STARTTLS) or the usual EMAIL_HOST/EMAIL_PORT/…; with neither, messages are written to var/mail/.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Heliograph <noreply@heliograph.localhost>")
SERVER_EMAIL = env("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
EMAIL_URL = env("EMAIL_URL")
if EMAIL_URL:
    _email = urlsplit(EMAIL_URL)
    if _email.scheme not in ("smtp", "smtps", "smtp+tls", "submission"):
        raise ImproperlyConfigured("EMAIL_URL must start with smtp://, smtp+tls:// or smtps://")
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = _email.hostname or "localhost"
    EMAIL_PORT = _email.port or {"smtps": 465, "smtp+tls": 587, "submission": 587}.get(
        _email.scheme, 25
    )
    EMAIL_HOST_USER = unquote(_email.username or "")
    EMAIL_HOST_PASSWORD = unquote(_email.password or "")
    EMAIL_USE_SSL = _email.scheme == "smtps"
    EMAIL_USE_TLS = _email.scheme in ("smtp+tls", "submission")
elif env("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env("EMAIL_HOST")
    EMAIL_PORT = env_int("EMAIL_PORT", 25)
    EMAIL_HOST_USER = env("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
else:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = VAR_DIR / "mail"
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 30)

# Celery: Redis as broker; without REDIS_URL tasks run in-process (embedded default).
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=not REDIS_URL)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# A task that runs longer than the visibility timeout would be handed to a second worker.
# Sending a message waits at most a second or so with the broker down: the write that sends it
# has committed, and the sweeper finds what was not enqueued (notifications/outbox.py).
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": 3600,
    "socket_timeout": 1,
    "socket_connect_timeout": 0.5,
}
CELERY_BROKER_CONNECTION_TIMEOUT = 0.5
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}
# After a failed send, messages are not tried for this long (seconds): the sweeper will.
BROKER_RETRY_SECONDS = float(env("BROKER_RETRY_SECONDS", "5"))
CELERY_TASK_SOFT_TIME_LIMIT = 300
CELERY_TASK_TIME_LIMIT = 360
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "advance-maintenance": {"task": "incidents.tasks.advance_maintenance", "schedule": 30.0},
    # Alerts whose hold-down is over reach the page (incidents/alerts.py).
    "promote-alerts": {"task": "incidents.tasks.promote_held_alerts", "schedule": 10.0},
    # Hook requests queued (202) whose processing task was lost (incidents/alerts.py).
    "sweep-alert-requests": {"task": "incidents.tasks.sweep_alert_requests", "schedule": 10.0},
    # Built-in monitors: due checks sent to the workers; old results pruned (incidents/monitors.py).
    "schedule-monitors": {"task": "incidents.tasks.schedule_monitors", "schedule": 2.0},
    "prune-monitor-results": {"task": "incidents.tasks.prune_monitor_results", "schedule": 3600.0},
    # Retries, expired leases, messages lost with Redis, events not fanned out.
    "sweep-notifications": {"task": "notifications.tasks.sweep", "schedule": 30.0},
    # Idempotency-Key answers (24 hours) and console form tokens (7 days) past their use.
    "prune-request-records": {"task": "status.tasks.prune", "schedule": 3600.0},
    # Custom domains: verify new TXT records, notice missing ones (status/domains.py).
    "check-domains": {"task": "status.tasks.check_domains", "schedule": 3600.0},
    # System metrics: raw points and minute roll-ups past their retention (status/metrics.py).
    "prune-metrics": {"task": "status.metrics.prune_metrics", "schedule": 3600.0},
}
# System metrics (status/metrics.py): raw points are kept this many days (and the API refuses
# older ones), minute and five-minute roll-ups this many (the day chart reads them); hour and
# day roll-ups stay.
METRICS_RAW_RETENTION_DAYS = env_int("METRICS_RAW_RETENTION_DAYS", 7)
METRICS_MINUTE_RETENTION_DAYS = env_int("METRICS_MINUTE_RETENTION_DAYS", 14)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Celery's Django fixup closes the database connections around every task unless told to reuse
# them, and a new PostgreSQL connection costs more than a delivery. They are recycled as Django
# does for requests instead (CONN_MAX_AGE, health checks: see notifications/tasks.py).
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)

# Notifications (notifications/models.py). A worker holds what it claimed for a lease that it
# renews while it works (before each send, longer than any one send may take), so the lease of
# a worker that died runs out within this many seconds and the sweeper hands its rows on.
NOTIFICATIONS_LEASE_SECONDS = env_int("NOTIFICATIONS_LEASE_SECONDS", 60)
# A pending delivery unclaimed this long after it was enqueued is assumed lost with its message
# (Redis flushed or restarted) and enqueued again; a second message for a row costs nothing
# (the claim is a conditional UPDATE).
NOTIFICATIONS_REQUEUE_AFTER_SECONDS = env_int("NOTIFICATIONS_REQUEUE_AFTER_SECONDS", 60)
NOTIFICATIONS_FAN_OUT_CHUNK = env_int("NOTIFICATIONS_FAN_OUT_CHUNK", 10_000)
NOTIFICATIONS_EMAIL_BATCH = env_int("NOTIFICATIONS_EMAIL_BATCH", 200)
# Webhooks go in batches of this many per task, sent by this many threads at once (each request
# keeps its own timeouts; one slow endpoint holds one thread, not the batch).
NOTIFICATIONS_WEBHOOK_BATCH = env_int("NOTIFICATIONS_WEBHOOK_BATCH", 500)
NOTIFICATIONS_WEBHOOK_THREADS = env_int("NOTIFICATIONS_WEBHOOK_THREADS", 16)
# Public subscribe form: requests per hour from one IP address, and for one email or endpoint.
NOTIFICATIONS_SUBSCRIBE_PER_IP = env_int("NOTIFICATIONS_SUBSCRIBE_PER_IP", 10)
NOTIFICATIONS_SUBSCRIBE_PER_ADDRESS = env_int("NOTIFICATIONS_SUBSCRIBE_PER_ADDRESS", 3)
# Sending policy (SECURITY.md): every message sent on a tenant's behalf (notifications of every
# channel, confirmations, invitations, notices) counts against its quota for the day (UTC);
# beyond it deliveries wait for the next day and show why in the delivery log. Platform staff
# mark the tenants they know as trusted in the admin, or set a tenant's own quota there.
SENDING_QUOTA_PER_DAY = env_int("SENDING_QUOTA_PER_DAY", 2000)
SENDING_QUOTA_TRUSTED_PER_DAY = env_int("SENDING_QUOTA_TRUSTED_PER_DAY", 200_000)
# Sign-up and password reset: requests per hour from one IP address, and for one email address.
ACCOUNT_EMAILS_PER_IP = env_int("ACCOUNT_EMAILS_PER_IP", 10)
ACCOUNT_EMAILS_PER_ADDRESS = env_int("ACCOUNT_EMAILS_PER_ADDRESS", 3)
# Webhooks to private, loopback, link-local and CGNAT addresses: only for local development
# and tests. Off, such endpoints are refused when saved and again at connect time.
WEBHOOKS_ALLOW_PRIVATE_IPS = env_bool("WEBHOOKS_ALLOW_PRIVATE_IPS", False)
# SMS subscribers (notifications/sms.py), through the platform's Twilio account: offered only
# when the account SID, auth token and sender (a number, or a Messaging Service SID "MG…") are
# set. TWILIO_API_BASE is for tests (a local fake of the Messages API). Each page sends at
# most SMS_DAILY_CAP_PER_PAGE SMS a day (UTC); the rest are marked in the delivery log.
TWILIO_ACCOUNT_SID = env("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env("TWILIO_AUTH_TOKEN")
TWILIO_FROM = env("TWILIO_FROM")
TWILIO_API_BASE = env("TWILIO_API_BASE", "https://api.twilio.com").rstrip("/")
SMS_DAILY_CAP_PER_PAGE = env_int("SMS_DAILY_CAP_PER_PAGE", 1000)
# Twilio Webhook Settings that sign callbacks with a shared key (header
# X-Twilio-Webhooks-Signature-Settings): that key's secret. Unset, such callbacks are refused.
TWILIO_WEBHOOK_SIGNING_SECRET = env("TWILIO_WEBHOOK_SIGNING_SECRET")
# Opt-in codes, across all pages: at most 1 a minute, 3 an hour and 5 a day to one number, and
# SMS_CODES_PER_DAY in all (platform-wide); only to numbers of SMS_ALLOWED_COUNTRIES (ISO
# codes, e.g. "EC,GB"; empty: every country). Codes do not count against SMS_DAILY_CAP_PER_PAGE.
SMS_CODES_PER_NUMBER = (
    (60, env_int("SMS_CODES_PER_NUMBER_MINUTE", 1)),
    (3600, env_int("SMS_CODES_PER_NUMBER_HOUR", 3)),
    (86400, env_int("SMS_CODES_PER_NUMBER_DAY", 5)),
)
SMS_CODES_PER_DAY = env_int("SMS_CODES_PER_DAY", 1000)
SMS_ALLOWED_COUNTRIES = [c.upper() for c in env_list("SMS_ALLOWED_COUNTRIES")]
# Imports from Statuspage's management API (notifications/statuspage_api.py) read it here
# unless the import names another address (tests: a local fake).
STATUSPAGE_API_URL = env("STATUSPAGE_API_URL", "https://api.statuspage.io/v1").rstrip("/")
# Built-in monitors (incidents/monitors.py) call only public addresses too, under the same
# setting. Their raw results are kept this many days (response times stay in the roll-ups).
MONITOR_RESULTS_RETENTION_DAYS = env_int("MONITOR_RESULTS_RETENTION_DAYS", 30)

# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto.
if env("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (
        "HTTP_" + env("SECURE_PROXY_SSL_HEADER").upper().replace("-", "_"),
        "https",
    )
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
# Preloading is a promise for months (browsers ship the list): the operator makes it, once
# the domain and every name under it serve HTTPS for good. Without it, Django's deploy check
# would warn (security.W021) about a choice made on purpose.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
# Off only for plain HTTP with DEBUG off (`make stack` on 127.0.0.1): never in production.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [SITE_URL])
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (django-csp; SECURITY.md, "Content"). Scripts come
# from our static files only (htmx in the console, Swagger UI at /api/v1/docs/), never inline;
# public pages get script-src 'none' (status.hosts.public_page), and the embeddable widget and
# badge may be framed by any site (frame-ancestors *). Styles allow 'unsafe-inline': a public
# page carries its accent colour in a <style>, and public pages are cached whole and shared
# between visitors, so a per-response nonce cannot be used; CSS cannot run script.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Errors in Statuspage's shape, {"error": ..., "message": ...} (status/api.py).
    "EXCEPTION_HANDLER": "status.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": f"{SITE_NAME} management API",
    "DESCRIPTION": "Statuspage-compatible management API v1. Authenticate with "
    "`Authorization: OAuth <key>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our static files (drf-spectacular-sidecar), no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # One name per choice set that several serializers use under the same field name.
    "ENUM_NAME_OVERRIDES": {
        "ComponentStatusEnum": "status.models.ComponentStatus",
        "IntegrationKindEnum": "incidents.models.IntegrationKind",
        "MonitorKindEnum": "incidents.monitor_models.MonitorKind",
        "IncidentDraftStateEnum": ["pending", "published", "discarded"],
        "MonitorStateEnum": ["pending", "up", "degraded", "down", "paused"],
    },
}
# Management API rate limit per key: a sustained rate with bursts (a token bucket).
API_RATE_LIMIT_PER_SECOND = float(env("API_RATE_LIMIT_PER_SECOND", "1"))
API_RATE_LIMIT_BURST = env_int("API_RATE_LIMIT_BURST", 10)

DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Logs (config/logging.py): JSON lines (LOG_FORMAT=json, the default with DEBUG off) or plain
# text (the default with DEBUG on, as in `make run`), each with its request id.
LOG_FORMAT = env("LOG_FORMAT", "plain" if DEBUG else "json").lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}")
LOGGING = logging_settings(json_format=LOG_FORMAT == "json", level=env("LOG_LEVEL", "INFO"))

# The proxies in front of the web nodes (nginx, a load balancer), as addresses or networks:
# requests from them carry the visitor's address in X-Forwarded-For (status/middleware.py).
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", [])
for _network in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: no network {_network!r}") from None

# /metrics (status/health.py): for `Authorization: Bearer <METRICS_TOKEN>`; with no token, for
# requests from these networks only (reached directly, not through a proxy). Otherwise 404.
METRICS_TOKEN = env("METRICS_TOKEN")
METRICS_ALLOWED_NETWORKS = env_list("METRICS_ALLOWED_NETWORKS", ["127.0.0.0/8", "::1/128"])
for _network in METRICS_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"METRICS_ALLOWED_NETWORKS: no network {_network!r}") from None
