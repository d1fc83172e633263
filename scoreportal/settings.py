"""Settings for Score Portal, read from the environment (django-environ).

Every variable is documented in `.env.example`. With DJANGO_DEBUG off (production) the
secrets and the database URL have no default: start-up stops with a message naming the
missing variable instead of running on a silent fallback.
"""

from datetime import timedelta
from pathlib import Path

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

from scoreportal.secrets_manager import load_secrets_into_environ

# Django's generic classes (ModelAdmin[Model], QuerySet[Model]) subscriptable at run time.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# `make run` writes .env (git-ignored, never packaged) so that `manage.py ...` next to it
# uses the same local stack. Variables set in the environment win over it; the test suite
# and the benchmark ignore it (DJANGO_IGNORE_DOT_ENV).
DOT_ENV = BASE_DIR / ".env"
if DOT_ENV.exists() and not env.bool("DJANGO_IGNORE_DOT_ENV", default=False):
    env.read_env(DOT_ENV)
# On Lambda the secrets come from AWS Secrets Manager (SCOREPORTAL_SECRET_ID), see
# docs/deploy.md; explicitly set environment variables take precedence.
load_secrets_into_environ()

# ==============================================================================
# CORE
# ==============================================================================
DEBUG = env.bool("DJANGO_DEBUG", default=False)


def _required(name: str, *, debug_default: str) -> str:
    """A variable production must set; only a DEBUG (laptop) run may fall back to a default."""
    if DEBUG:
        return str(env.str(name, default=debug_default))
    try:
        return str(env.str(name))
    except ImproperlyConfigured:
        raise ImproperlyConfigured(
            f"{name} must be set when DJANGO_DEBUG is off (see .env.example)."
        ) from None


SECRET_KEY = _required("DJANGO_SECRET_KEY", debug_default="insecure-development-only-secret-key")
# What `check --deploy` calls a weak key (W009), refused at start-up: it signs sessions,
# CSRF tokens, password-set links and the import's upload tokens.
if not DEBUG and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
    raise ImproperlyConfigured(
        "DJANGO_SECRET_KEY must be at least 50 characters long, with at least 5 different "
        'characters: python -c "import secrets; print(secrets.token_urlsafe(50))".'
    )
ALLOWED_HOSTS = env.list(
    "DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else []
)

ROOT_URLCONF = "scoreportal.urls"
WSGI_APPLICATION = "scoreportal.wsgi.application"

# The staff speak Brazilian Portuguese; English is selectable per user (accounts.StaffProfile).
# API error messages stay English: partners' integrations read them.
LANGUAGE_CODE = "pt-br"
LANGUAGES = [("pt-br", "Português (Brasil)"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One time zone everywhere people read times; dates and times with seconds (scoreportal/formats).
TIME_ZONE = "America/Sao_Paulo"
USE_I18N = True
USE_TZ = True
FORMAT_MODULE_PATH = ["scoreportal.formats"]
USE_THOUSAND_SEPARATOR = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ==============================================================================
# APPS AND MIDDLEWARE
# ==============================================================================
INSTALLED_APPS = [
    # Django's admin with our AdminSite (sign-in policy, TOTP, roles): accounts/admin_site.py.
    "accounts.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    # Provides AbstractAPIKey; its own concrete APIKey model is unused (see accounts.admin).
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "django_otp",
    "accounts.apps.AuthenticatorAppsConfig",  # django_otp.plugins.otp_totp
    # The platform: its management commands (the database roles) and models' base classes.
    "scoreportal",
    "accounts",
    "scores",
    "audit",
]

MIDDLEWARE = [
    # Outermost: request id, JSON error envelope for non-admin paths, one log line.
    "scoreportal.api.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "scoreportal.staticfiles.LazyWhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The admin in the staff's language, the API in English (instead of LocaleMiddleware).
    "scoreportal.language.LanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # No CPF in an admin address: the search box's term becomes a token (docs/security.md).
    "scores.admin.cpf_search.CpfFreeAdminAddressesMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it answers locked-out sign-ins.
    "axes.middleware.AxesMiddleware",
]

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

# ==============================================================================
# DATABASE
# ==============================================================================
# Transactions are explicit (services use transaction.atomic); requests run in autocommit
# so the score path's single audit INSERT is a single round trip.
DATABASES = {
    "default": env.db_url_config(
        _required("DATABASE_URL", debug_default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")
    )
}
# Persistent connections survive between invocations of a warm Lambda. Django's health
# check (a `SELECT 1` on a reused connection before a request's first query) replaces one
# that the database, RDS Proxy or a failover closed while the function was frozen.
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("DATABASE_CONN_HEALTH_CHECKS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=5)
    )
    # Django's Postgres backend with django-postgres-extra's schema editor and
    # introspection, which its partitioning manager needs (the audit trail's monthly
    # partitions, docs/audit.md); queries compile as Django's do.
    DATABASES["default"]["ENGINE"] = "psqlextra.backend"
# It would CREATE EXTENSION hstore on every migrate: no model uses hstore, and neither
# role may create extensions.
POSTGRES_EXTRA_AUTO_EXTENSION_SET_UP = False

# ==============================================================================
# AUTHENTICATION AND SECURITY
# ==============================================================================
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Links from `create_staff_user` to set a first password expire after a day.
PASSWORD_RESET_TIMEOUT = 24 * 3600
# Where staff open the admin, for links printed by management commands (a custom domain in
# production; make run writes http://127.0.0.1:8000 into .env).
PUBLIC_BASE_URL = env.str("DJANGO_PUBLIC_URL", default="").rstrip("/")

# The admin's address: not the default /admin/ that every scanner tries (docs/deploy.md).
ADMIN_URL = env.str("DJANGO_ADMIN_URL", default="admin/").strip("/") + "/"
# The only place staff sign in (the password-set pages link here too).
LOGIN_URL = "admin:login"
LOGIN_REDIRECT_URL = "admin:index"

# Staff sessions end after a working day, and when the browser closes.
SESSION_COOKIE_AGE = env.int("DJANGO_SESSION_HOURS", default=9) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# django-axes: after AXES_FAILURE_LIMIT failed sign-ins for one username, or from one
# client IP, further attempts are refused until the cool-off ends or a key manager or
# superuser unlocks them. Attempts and successful sign-ins are recorded in the database.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("STAFF_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("STAFF_LOGIN_LOCKOUT_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "scoreportal.client_ip.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_HTTP_RESPONSE_CODE = 403
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# Recorded attempts never keep the password or the one-time code.
AXES_SENSITIVE_PARAMETERS = ["otp_token"]
# Sign-ins, failures and lock-outs are shown by accounts.admin, in the staff's language.
AXES_ENABLE_ADMIN = False
# The staff's second factor: TOTP (django-otp). The issuer names the entry in their app.
OTP_TOTP_ISSUER = env.str("STAFF_TOTP_ISSUER", default="Score Portal")
# Nobody reads another member's TOTP secret in the admin (accounts.admin.AuthenticatorAdmin).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # API Gateway terminates TLS and tells us so.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    # Browsers must come back over HTTPS only, for a year, to this host and its own
    # subdomains (includeSubDomains never reaches the bank's parent domain or siblings).
    SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=365 * 24 * 3600)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SILENCED_SYSTEM_CHECKS = [
    # No redirect to HTTPS: API Gateway has no plain-HTTP listener, so there is no HTTP
    # request to redirect; a redirect would only ever answer local HTTP servers (gunicorn in
    # tests and the benchmark). HSTS keeps browsers on HTTPS.
    "security.W008",
    # No HSTS preload: the browsers' preload list takes registrable domains only, and the
    # portal lives on a subdomain of the bank's domain, whose preloading is the bank's call.
    "security.W021",
]

# Content-Security-Policy (django-csp) on every response: the admin and the API documents
# load scripts, styles, images and fonts from our own static files only, never inline
# script, and may not be framed. JSON answers carry it too, harmlessly.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Django's admin and Swagger UI set style attributes on elements.
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
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# ==============================================================================
# STATIC FILES (whitenoise: the admin's CSS and JS are served by the app itself)
# ==============================================================================
# The URL pages link static files at. Behind API Gateway's stage URL that includes the
# stage (/dev/static/), on a custom domain it does not (/static/): zappa_settings.json sets
# it per stage. Whitenoise matches the path after the stage, which is always /static/.
STATIC_URL = env.str("DJANGO_STATIC_URL", default="/static/")
WHITENOISE_STATIC_PREFIX = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
# collectstatic writes only the hashed names (and their .gz): pages link nothing else, and
# the unhashed copies would only make the Lambda package bigger (docs/deploy.md).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True

# ==============================================================================
# DJANGO REST FRAMEWORK AND OPENAPI
# ==============================================================================
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["accounts.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": [
        "accounts.permissions.FromAllowedNetwork",
        "accounts.permissions.HasRequiredScopes",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["scoreportal.api.parsers.BoundedJSONParser"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "scoreportal.api.negotiation.JsonOnlyContentNegotiation",
    "EXCEPTION_HANDLER": "scoreportal.api.errors.api_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_CLASSES": [],
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Score Portal API",
    "DESCRIPTION": (
        "Credit scores for Brazilian consumers, identified by CPF. Every query is audited."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_AUTHENTICATION": [],
    # Swagger UI from our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # drf-spectacular imports the hook's module only when it generates a schema: the API's
    # documentation stays off the request path (docs/architecture.md, cold start).
    "PREPROCESSING_HOOKS": ["scores.api.openapi.document_paths_without_trailing_slash"],
    "ENUM_NAME_OVERRIDES": {"ComponentStatusEnum": ["ok", "unavailable"]},
    # Choice labels are for staff, in their language; the API's documentation lists values.
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
}

# A process reuses an API key it looked up for this long (no query per request). Revoking a
# key or deactivating an organization reaches every instance on its next request through the
# per-key counter item (accounts/rate_limits.py); this bound is what remains when DynamoDB is
# unreachable, or was when the change was made. 0 disables the reuse.
API_KEY_CACHE_SECONDS = env.int("API_KEY_CACHE_SECONDS", default=30)

# Limits of a new API key unless its issuer sets others (each key has its own):
# CPFs per minute and CPFs per day (the day of America/Sao_Paulo), across all instances.
API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE = env.int(
    "API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE", default=600
)
API_KEY_DEFAULT_DAILY_QUOTA = env.int("API_KEY_DEFAULT_DAILY_QUOTA", default=50_000)
if min(API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE, API_KEY_DEFAULT_DAILY_QUOTA) < 1:
    raise ImproperlyConfigured(
        "API_KEY_DEFAULT_RATE_LIMIT_PER_MINUTE and API_KEY_DEFAULT_DAILY_QUOTA must be positive."
    )

# Off Lambda, how many reverse proxies in front of the app append to X-Forwarded-For; 0 means
# the peer address is the client's (scoreportal/client_ip.py). On Lambda the address comes from
# API Gateway's request context and this is not used.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# Request bodies larger than this are refused with 413 payload_too_large.
API_MAX_BODY_BYTES = env.int("API_MAX_BODY_BYTES", default=64 * 1024)

# ==============================================================================
# SCORE PORTAL
# ==============================================================================
# HMAC-SHA256 key for CPF lookup hashes. Changing it orphans every stored hash.
CPF_HASH_KEY: bytes = _required(
    "CPF_HASH_KEY", debug_default="insecure-development-only-cpf-hash-key"
).encode()
if not DEBUG and len(CPF_HASH_KEY) < 32:
    raise ImproperlyConfigured("CPF_HASH_KEY must be at least 32 characters long.")

# The scorecard served until a version is first activated in the portal (the first boot's
# default); from then on the portal's record decides (docs/credit-data.md, "Scorecard
# versions"). Empty means the oldest file shipped in scores/scorecards/.
SCORECARD_VERSION = env.str("SCORECARD_VERSION", default="")

SCORE_CACHE_TABLE = env.str("SCORE_CACHE_TABLE", default="scoreportal-scores")
SCORE_CACHE_TTL_SECONDS = env.int("SCORE_CACHE_TTL_SECONDS", default=86400)
# Unset means real AWS; make run/test point it at a local moto server.
DYNAMODB_ENDPOINT_URL: str | None = env.str("DYNAMODB_ENDPOINT_URL", default="") or None
AWS_REGION = env.str("AWS_REGION", default="sa-east-1")
# The operations bucket (infra/): files uploaded for import under imports/, secrets handed
# to operators under handoff/. Unset on a laptop, where both stay on local disk.
OPERATIONS_BUCKET = env.str("OPERATIONS_BUCKET", default="")
# Unset means real AWS; tests point it at the local moto server.
S3_ENDPOINT_URL: str | None = env.str("S3_ENDPOINT_URL", default="") or None
# Without an operations bucket, uploaded import files stay under MEDIA_ROOT/imports/. No
# URL serves MEDIA_ROOT (there is no MEDIA_URL route): the files hold plaintext CPFs.
MEDIA_ROOT = Path(env.str("DJANGO_MEDIA_ROOT", default="") or BASE_DIR / "media")
# An admin import (check, then import) runs as a task in steps of about this many seconds;
# each step hands on to a new one (on Lambda a new invocation: the function's timeout is
# 29 s). Steps persist where they stopped (scores.services.profile_imports).
PROFILE_IMPORT_STEP_SECONDS = env.float("PROFILE_IMPORT_STEP_SECONDS", default=18.0)
# Bad rows kept with an import's record (and shown in its preview); all are counted.
PROFILE_IMPORT_MAX_ERRORS_KEPT = env.int("PROFILE_IMPORT_MAX_ERRORS_KEPT", default=1000)
# The largest file the admin accepts (bytes); the command line has no limit.
PROFILE_IMPORT_MAX_UPLOAD_BYTES = env.int(
    "PROFILE_IMPORT_MAX_UPLOAD_BYTES", default=200 * 1024 * 1024
)
# Bounded so a slow or unreachable DynamoDB costs a request well under a second.
DYNAMODB_CONNECT_TIMEOUT_SECONDS = env.float("DYNAMODB_CONNECT_TIMEOUT_SECONDS", default=0.25)
DYNAMODB_READ_TIMEOUT_SECONDS = env.float("DYNAMODB_READ_TIMEOUT_SECONDS", default=0.3)
DYNAMODB_MAX_ATTEMPTS = env.int("DYNAMODB_MAX_ATTEMPTS", default=2)
# After a DynamoDB failure, skip the cache for this long instead of waiting on it again.
DYNAMODB_FAILURE_COOLDOWN_SECONDS = env.float("DYNAMODB_FAILURE_COOLDOWN_SECONDS", default=5.0)

# A scorecard proposal's impact is computed as a task in steps of this many seconds (under
# the Lambda function's timeout), each scoring ranges of this many profiles in Postgres.
SCORECARD_IMPACT_STEP_SECONDS = env.float("SCORECARD_IMPACT_STEP_SECONDS", default=18.0)
SCORECARD_IMPACT_RANGE_PROFILES = env.int("SCORECARD_IMPACT_RANGE_PROFILES", default=100_000)
# The largest scorecard file the admin accepts (a shipped one is about 5 KB).
SCORECARD_MAX_UPLOAD_BYTES = 256 * 1024

# Audit rows older than this may be removed by `manage.py prune_audit`. The law asks for at
# least six months of consultation history (audit/retention.py): start-up refuses less
# (audit.apps), and the database enforces that floor too.
AUDIT_RETENTION_DAYS = env.int("AUDIT_RETENTION_DAYS", default=5 * 365)

# An export of the audit trail is written by a task in steps (docs/audit.md): a step
# stops after this long (under the function's 29-second timeout) or once it has written
# this many bytes (one part of the bucket's multipart upload: at least 5 MiB, S3's floor
# for every part but the last); the download link lasts this long.
AUDIT_EXPORT_STEP_SECONDS = env.float("AUDIT_EXPORT_STEP_SECONDS", default=18.0)
AUDIT_EXPORT_STEP_BYTES = env.int("AUDIT_EXPORT_STEP_BYTES", default=16 * 1024 * 1024)
AUDIT_EXPORT_LINK_SECONDS = env.int("AUDIT_EXPORT_LINK_SECONDS", default=300)

# ==============================================================================
# LOGGING: one JSON object per line on stdout (CloudWatch), CPFs and keys redacted
# ==============================================================================
# Nothing that writes a request's path, query string, headers or body logs below WARNING,
# whatever DJANGO_LOG_LEVEL or the Zappa stage's log_level say: our request line (route,
# status, latency) is the access log. Zappa's handler sets the root level from log_level
# before Django starts; this configuration runs after it and wins (docs/security.md).
LOG_LEVEL = env.str("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "scoreportal.logging.JsonFormatter"}},
    "filters": {"without_target": {"()": "scoreportal.logging.WithoutRequestTarget"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            # Django's request, security and runserver records name the request's path.
            "filters": ["without_target"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # The request log line (scoreportal.request) already reports every 4xx and 5xx.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        # runserver's access lines ("GET /path?query") on a laptop; errors still show.
        "django.server": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # SQL with its parameters (a session key among them) when DEBUG is on.
        "django.db.backends": {"level": "INFO"},
        # Zappa's access log ("GET /path?query … Referer") and, at DEBUG, each whole event
        # (headers, cookies, body) from its handler module, `handler` in the package.
        "zappa": {"level": "WARNING"},
        "handler": {"level": "WARNING"},
        "werkzeug": {"level": "WARNING"},
        # At DEBUG, every AWS request's parameters and body (an operator hand-off's secret).
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        # Failed and locked-out sign-ins are warnings; the start-up banner is not needed.
        "axes": {"level": "WARNING"},
    },
}
