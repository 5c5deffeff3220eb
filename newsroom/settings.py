"""
Settings for the Newsroom project.

Everything that differs between a laptop and production comes from environment
variables, read through the small helpers below. The defaults are the embedded
profile: SQLite in WAL mode, the local file system, an in-process cache. The README
lists every variable.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from newsroom.logging import stdout_config

BASE_DIR = Path(__file__).resolve().parent.parent


def envstr(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false, not {value!r}.")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a whole number, not {value!r}."
        ) from None


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


DEBUG = envbool("DEBUG", False)

SECRET_KEY = envstr("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set it to a long random string, or set DEBUG=1 "
            "for local development (see README.md)."
        )
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
# How many proxies (load balancer, CDN) stand in front of the app and append to
# X-Forwarded-For; 0 trusts REMOTE_ADDR alone.
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)

# Security: HTTPS, cookies and response headers. Safe defaults outside DEBUG; with
# the production variables in docs/deployment.md, `check --deploy` is silent.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
# Load balancers probe over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Behind a TLS-terminating proxy, name the header it sets, e.g.
# SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO (only if the proxy always sets it).
if envstr("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = (envstr("SECURE_PROXY_SSL_HEADER"), "https")
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
# Forms carry the token in a hidden field; no script needs to read the cookie.
CSRF_COOKIE_HTTPONLY = True
# Sent by newsroom.middleware.PermissionsPolicyMiddleware: features the site never
# uses, switched off for it and anything it embeds.
PERMISSIONS_POLICY = {
    "camera": [],
    "microphone": [],
    "geolocation": [],
    "payment": [],
    "usb": [],
    "interest-cohort": [],
}
# Content-Security-Policy (Django's built-in middleware). Scripts only from this
# site, inline ones only with the per-response nonce ({{ csp_nonce }}). Inline
# styles stay allowed: the admin and the body editor set them, and the sanitiser
# already strips style attributes from article HTML. Media on another origin
# (object storage, a CDN): add it with CSP_EXTRA_IMG_SRC=https://media.example.com.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:", *envlist("CSP_EXTRA_IMG_SRC", [])],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

# The public address of the site, used wherever a URL leaves the request cycle:
# emails, feeds built by tasks, List-Unsubscribe headers.
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")
SITE_NAME = envstr("SITE_NAME", "Newsroom")
SITE_DESCRIPTION = envstr(
    "SITE_DESCRIPTION", "Independent news, analysis and opinion from our newsroom."
)
PUBLISHER_NAME = envstr("PUBLISHER_NAME", "Newsroom Media")
PUBLISHER_ADDRESS = envstr("PUBLISHER_ADDRESS", "1 Example Street, Example City")

INSTALLED_APPS = [
    "newsroom.apps.NewsroomAdminConfig",  # django.contrib.admin, with our site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "taggit",
    "reversion",
    "django_tasks_db",
    "django_prose_editor",
    "anymail",
    "articles",
    "comments",
    "newsletter",
    "ratelimit",
    "newsroom",
    "axes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Above ConditionalGetMiddleware, as Django's docs order them: the ETag is a
    # hash of the page before compression (GZip then marks it weak), so it is the
    # same for every response however the random padding against BREACH falls.
    "django.middleware.gzip.GZipMiddleware",
    "django.middleware.http.ConditionalGetMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "newsroom.middleware.PermissionsPolicyMiddleware",
    # Above the middleware that set cookies (CSRF, session, messages): a response
    # that sets one is the reader's own.
    "publicpages.middleware.PublicCacheControlMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "newsroom.middleware.DatabaseUnavailableMiddleware",
    # Last, as django-axes asks: turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "newsroom.urls"
WSGI_APPLICATION = "newsroom.wsgi.application"

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
                "articles.context_processors.site",
                "publicpages.context_processors.fragment_cache",
            ],
        },
    },
]

# Database: SQLite by default, or PostgreSQL from DATABASE_URL.
DATABASE_URL = envstr("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL,
            conn_max_age=envint("CONN_MAX_AGE", 60),
            conn_health_checks=True,
        )
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": envstr("SQLITE_PATH", str(BASE_DIR / "db.sqlite3")),
            # Kept open between requests, as on PostgreSQL: opening the file and
            # running the PRAGMAs below is a visible share of a page rendered from
            # cached fragments, and a new connection starts with an empty page
            # cache.
            "CONN_MAX_AGE": envint("CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
        }
    }
# Search reads an index built for each of these two (articles.search).
if DATABASES["default"]["ENGINE"] not in {
    "django.db.backends.postgresql",
    "django.db.backends.sqlite3",
}:
    raise ImproperlyConfigured(
        "DATABASE_URL must name a PostgreSQL or SQLite database."
    )
# SQLite gets these however it is named (SQLITE_PATH or DATABASE_URL=sqlite:///).
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # IMMEDIATE transactions take the write lock up front, so concurrent
        # writers queue on the busy timeout instead of failing with
        # "database is locked" when a read lock cannot be upgraded.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL;"
            "PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;"
            "PRAGMA mmap_size=134217728;"
            "PRAGMA cache_size=-20000;"
        ),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "articles.User"

AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation."
        "UserAttributeSimilarityValidator"
    },
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Cache, sessions and rate limits: in-process by default, Redis from REDIS_URL so
# several app servers share them.
REDIS_URL = envstr("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": envstr("CACHE_KEY_PREFIX", "newsroom"),
            # A Redis outage slows each request by at most this, instead of hanging
            # it; pages are then rendered without cached fragments.
            "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "newsroom",
        }
    }

# Django's {% cache %} tag keeps the parts of public pages that are the same for every
# reader here (publicpages/context_processors.py): in each process's memory, so a
# page rendered from them asks Redis for the generation alone, and still renders
# when Redis is down. Keyed on the generation, so a change in any process misses
# them everywhere.
CACHES["template_fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "template-fragments",
    "OPTIONS": {"MAX_ENTRIES": envint("FRAGMENT_CACHE_ENTRIES", 2000)},
}

# The shared HTTP caches in front of the app servers (Varnish, nginx, a CDN), as
# comma-separated URLs: each gets an HTTP BAN when anything readers see changes
# (publicpages/purge.py; deploy/varnish/newsroom.vcl answers it). Empty: no
# shared cache.
FRONTEND_CACHE_URLS = envlist("FRONTEND_CACHE_URLS", [])
for _url in FRONTEND_CACHE_URLS:
    if not _url.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"FRONTEND_CACHE_URLS: {_url!r} is not an http:// or https:// URL."
        )

# Seconds each process reuses the cache generation it last read before asking Redis
# again (publicpages/generation.py): a change reaches the cached fragments of other
# processes (gunicorn's other workers, other app servers) at most this late; its
# own process, at once. 0 asks on every request: the default behind a shared
# cache, which fetches a page again right after a purge and would keep whatever an
# out-of-date process rendered.
PAGE_CACHE_GENERATION_SECONDS = envint(
    "PAGE_CACHE_GENERATION_SECONDS", 0 if FRONTEND_CACHE_URLS else 1
)
# When the next scheduled article goes live: no copy of a public page outlives it.
PUBLIC_PAGES_NEXT_PUBLICATION = "articles.models.next_scheduled_publication"
# Seconds a cached fragment (a part of a page that is the same for every reader,
# kept by {% cache %}) may be reused within one generation; 0 renders them every
# time. Off without Redis: the generation would be each process's own, and would
# not see another's changes.
FRAGMENT_CACHE_SECONDS = envint(
    "FRAGMENT_CACHE_SECONDS", 300 if REDIS_URL and not DEBUG else 0
)
# Cache-Control on public pages, read without a cookie of the reader's own
# (publicpages.middleware.PublicCacheControlMiddleware). Browsers: 0, they ask again
# every time (a 304 when nothing changed), so a reader who just commented sees
# their comment. Shared caches (Varnish, nginx, a CDN): longer when the app purges
# them on every change (FRONTEND_CACHE_URLS). Then, while one request fetches an
# expired page anew, others may get the old copy for this many more seconds.
PAGE_CACHE_MAX_AGE = envint("PAGE_CACHE_MAX_AGE", 0)
PAGE_CACHE_SHARED_MAX_AGE = envint(
    "PAGE_CACHE_SHARED_MAX_AGE", 300 if FRONTEND_CACHE_URLS else 60
)
PAGE_CACHE_STALE_WHILE_REVALIDATE = envint("PAGE_CACHE_STALE_WHILE_REVALIDATE", 30)
# /healthz reports unhealthy once the oldest waiting task has waited this long.
HEALTH_MAX_TASK_WAIT = envint("HEALTH_MAX_TASK_WAIT", 900)

# Background work: Django's tasks framework, stored in the database and run by
# `manage.py db_worker`.
TASKS = {
    "default": {
        "BACKEND": envstr("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default", "newsletter"],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(envstr("MEDIA_ROOT", str(BASE_DIR / "media")))
# Uploaded images: on the local disk by default, served by the app itself
# (newsroom/media.py). MEDIA_STORAGE=s3 keeps them in an S3-compatible bucket
# instead, which several app servers need (docs/deployment.md). boto3 reads the
# credentials itself: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or the machine's role.
MEDIA_STORAGE = envstr("MEDIA_STORAGE", "local")
if MEDIA_STORAGE == "local":
    MEDIA_STORAGE_BACKEND = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
elif MEDIA_STORAGE == "s3":
    if not envstr("AWS_STORAGE_BUCKET_NAME"):
        raise ImproperlyConfigured("MEDIA_STORAGE=s3 needs AWS_STORAGE_BUCKET_NAME.")
    MEDIA_STORAGE_BACKEND = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": envstr("AWS_STORAGE_BUCKET_NAME"),
            "region_name": envstr("AWS_S3_REGION_NAME") or None,
            # Any S3-compatible service: MinIO, Cloudflare R2, Backblaze B2...
            "endpoint_url": envstr("AWS_S3_ENDPOINT_URL") or None,
            # The CDN or bucket domain in image addresses, e.g. media.example.com.
            "custom_domain": envstr("AWS_S3_CUSTOM_DOMAIN") or None,
            # Plain public addresses, the same for every reader and cacheable.
            "querystring_auth": False,
            "file_overwrite": False,
            # Stored names carry a hash of the content: never changed in place.
            "object_parameters": {
                "CacheControl": "public, max-age=31536000, immutable"
            },
        },
    }
else:
    raise ImproperlyConfigured(
        f"MEDIA_STORAGE must be local or s3, not {MEDIA_STORAGE!r}."
    )
STORAGES = {
    "default": MEDIA_STORAGE_BACKEND,
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# Uploads: refuse anything larger than this before Pillow ever sees it.
MAX_UPLOAD_SIZE = envint("MAX_UPLOAD_SIZE", 10 * 1024 * 1024)
# The first handler stops storing a file as soon as it passes MAX_UPLOAD_SIZE.
FILE_UPLOAD_HANDLERS = [
    "articles.uploads.UploadSizeLimitHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# A decompression bomb is small on disk but huge in memory: refuse images with more
# pixels than this (40 megapixels is well above any newsroom camera's output).
MAX_IMAGE_PIXELS = envint("MAX_IMAGE_PIXELS", 40_000_000)
DATA_UPLOAD_MAX_MEMORY_SIZE = envint("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440)

# Email: printed to the console in DEBUG, sent over SMTP otherwise (the EMAIL_*
# variables, which since Django 6.1 go into MAILERS), or handed to an email
# service's API through django-anymail: EMAIL_PROVIDER names the service, the
# ANYMAIL_* variables hold its keys. The service's webhook reports bounces and
# complaints to /newsletter/webhooks/<provider>/ (newsletter/webhooks.py).
EMAIL_PROVIDER = envstr("EMAIL_PROVIDER", "smtp").lower()
# Each service's anymail backend, and the ANYMAIL setting its API key goes in
# (Amazon SES takes the usual AWS_* credentials instead).
EMAIL_PROVIDERS = {
    "amazon_ses": ("anymail.backends.amazon_ses.EmailBackend", None),
    "brevo": ("anymail.backends.brevo.EmailBackend", "BREVO_API_KEY"),
    "mailgun": ("anymail.backends.mailgun.EmailBackend", "MAILGUN_API_KEY"),
    "postmark": ("anymail.backends.postmark.EmailBackend", "POSTMARK_SERVER_TOKEN"),
    "sendgrid": ("anymail.backends.sendgrid.EmailBackend", "SENDGRID_API_KEY"),
    "sparkpost": ("anymail.backends.sparkpost.EmailBackend", "SPARKPOST_API_KEY"),
}


def envrequired(name: str, why: str) -> str:
    value = envstr(name)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set {why}.")
    return value


if EMAIL_PROVIDER == "smtp":
    MAILERS = {
        "default": {
            "BACKEND": envstr(
                "EMAIL_BACKEND",
                # The console, with links and subjects readable (not
                # quoted-printable), so a confirmation link can be copied.
                "newsroom.console_email.ReadableConsoleBackend"
                if DEBUG
                else "django.core.mail.backends.smtp.EmailBackend",
            ),
        }
    }
    # Only the SMTP backend takes these: another backend refuses options it
    # doesn't know.
    if MAILERS["default"]["BACKEND"] == "django.core.mail.backends.smtp.EmailBackend":
        MAILERS["default"]["OPTIONS"] = {
            "host": envstr("EMAIL_HOST", "localhost"),
            # Always given: left out, the port would follow use_tls (587), not 25.
            "port": envint("EMAIL_PORT", 25),
            "username": envstr("EMAIL_HOST_USER"),
            "password": envstr("EMAIL_HOST_PASSWORD"),
            "use_tls": envbool("EMAIL_USE_TLS", False),
            "timeout": envint("EMAIL_TIMEOUT", 30),
        }
elif EMAIL_PROVIDER in EMAIL_PROVIDERS:
    _backend, _api_key_setting = EMAIL_PROVIDERS[EMAIL_PROVIDER]
    _why = f"with EMAIL_PROVIDER={EMAIL_PROVIDER}"
    MAILERS = {"default": {"BACKEND": _backend}}
    ANYMAIL = {}
    if _api_key_setting:
        ANYMAIL[_api_key_setting] = envrequired("ANYMAIL_API_KEY", _why)
    if envstr("ANYMAIL_API_URL"):
        # Another region of the service, e.g. https://api.eu.mailgun.net/v3.
        ANYMAIL[f"{EMAIL_PROVIDER.upper()}_API_URL"] = envstr("ANYMAIL_API_URL")
    # Webhooks must prove they come from the service, or anyone could stop the
    # mail to any subscriber: Mailgun signs each call with its own key; the
    # others send the user:password of ANYMAIL_WEBHOOK_SECRET (basic auth).
    if EMAIL_PROVIDER == "mailgun":
        ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = envrequired(
            "ANYMAIL_WEBHOOK_SIGNING_KEY", _why
        )
    else:
        envrequired("ANYMAIL_WEBHOOK_SECRET", _why)
    # Several, comma-separated, while a new one replaces an old one.
    ANYMAIL["WEBHOOK_SECRET"] = envlist("ANYMAIL_WEBHOOK_SECRET", [])
else:
    raise ImproperlyConfigured(
        f"EMAIL_PROVIDER must be one of smtp, {', '.join(EMAIL_PROVIDERS)}, "
        f"not {envstr('EMAIL_PROVIDER')!r}."
    )
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Newsroom <news@example.com>")
SERVER_EMAIL = envstr("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

LOGIN_URL = "admin:login"

# Login throttling (django-axes, newsroom/login_throttle.py): after
# LOGIN_FAILURE_LIMIT failed logins for one account from one address, or
# LOGIN_IP_FAILURE_LIMIT from one address whatever the accounts, that address
# may not log in (to that account, or at all) for LOGIN_COOLOFF_MINUTES; every
# further try starts the wait again. Counted in the database, so every process
# shares the counts. The real user, from another address, is never locked out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", 5)
LOGIN_IP_FAILURE_LIMIT = envint("LOGIN_IP_FAILURE_LIMIT", 20)
LOGIN_COOLOFF_MINUTES = envint("LOGIN_COOLOFF_MINUTES", 15)
for _name in ("LOGIN_FAILURE_LIMIT", "LOGIN_IP_FAILURE_LIMIT", "LOGIN_COOLOFF_MINUTES"):
    if globals()[_name] < 1:
        raise ImproperlyConfigured(f"{_name} must be 1 or more.")
AXES_HANDLER = "newsroom.login_throttle.LoginThrottleHandler"
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
# In this order: LoginThrottleHandler reads the account's count first, then the
# address's.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "ip_address"]
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_CLIENT_IP_CALLABLE = "newsroom.login_throttle.client_ip_address"
AXES_LOCKOUT_CALLABLE = "newsroom.login_throttle.lockout_response"
# Every failure stays in the admin's "Access failures" (AccessAttempt rows go
# once their cool-off is over).
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_VERBOSE = False  # no banner on every start-up and command

# Logs go to stdout: JSON lines in production (LOG_FORMAT=json), plain text in DEBUG.
LOG_FORMAT = envstr("LOG_FORMAT", "plain" if DEBUG else "json")
if LOG_FORMAT not in {"json", "plain"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
# Any case, as gunicorn.conf.py (which lowercases it) accepts it.
LOG_LEVEL = envstr("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        "LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
        f"not {LOG_LEVEL.lower()!r}."
    )
LOGGING = stdout_config(
    LOG_FORMAT, LOG_LEVEL, {"django.db.backends": {"level": "WARNING"}}
)

# Newsletter: sign-up limits and the sending engine (see newsletter/README.md).
NEWSLETTER_FROM_EMAIL = envstr("NEWSLETTER_FROM_EMAIL", DEFAULT_FROM_EMAIL)
# Recipients claimed and sent per task, over one SMTP connection.
NEWSLETTER_BATCH_SIZE = envint("NEWSLETTER_BATCH_SIZE", 500)
# Seconds a confirmation link stays valid.
NEWSLETTER_CONFIRM_MAX_AGE = envint("NEWSLETTER_CONFIRM_MAX_AGE", 3 * 24 * 3600)
# Confirmation emails one address may receive per day, however often it signs up.
NEWSLETTER_CONFIRMATIONS_PER_DAY = envint("NEWSLETTER_CONFIRMATIONS_PER_DAY", 3)
# Sign-ups accepted per IP address per NEWSLETTER_SIGNUP_PERIOD seconds.
NEWSLETTER_SIGNUP_RATE = envint("NEWSLETTER_SIGNUP_RATE", 10)
NEWSLETTER_SIGNUP_PERIOD = envint("NEWSLETTER_SIGNUP_PERIOD", 3600)
# A recipient refused for now (4xx) is retried later, this many attempts in all,
# the first retry after NEWSLETTER_RETRY_BACKOFF seconds, doubling each time.
NEWSLETTER_SMTP_ATTEMPTS = envint("NEWSLETTER_SMTP_ATTEMPTS", 4)
NEWSLETTER_RETRY_BACKOFF = envint("NEWSLETTER_RETRY_BACKOFF", 300)
# Seconds a send waits when the mail server is down or refuses everything; then a
# queued task tries again (no cron needed).
NEWSLETTER_SERVER_RETRY_AFTER = envint("NEWSLETTER_SERVER_RETRY_AFTER", 60)
# Batch tasks in flight per send: how many workers can share one send.
NEWSLETTER_WORKERS_PER_SEND = envint("NEWSLETTER_WORKERS_PER_SEND", 4)
# A claim older than this many seconds belongs to a worker presumed dead.
NEWSLETTER_STALE_CLAIM_AFTER = envint("NEWSLETTER_STALE_CLAIM_AFTER", 900)
# Messages marked "sending" per durable commit: the most a crashed worker may leave
# in doubt (never resent by themselves, so nobody gets the issue twice). 1 is the
# strictest; it costs one durable commit (a WAL flush on PostgreSQL) per message.
NEWSLETTER_SENDING_SLICE = envint("NEWSLETTER_SENDING_SLICE", 5)

# Comments
# Replies nest this deep (1 = no replies); deeper replies join their parent's level.
COMMENTS_THREAD_DEPTH = envint("COMMENTS_THREAD_DEPTH", 3)
# Top-level threads per page of an article's comments (?cpage=N beyond that).
COMMENTS_PER_PAGE = envint("COMMENTS_PER_PAGE", 50)
# Comments close this many days after publication; 0 keeps them open for ever.
COMMENTS_CLOSE_AFTER_DAYS = envint("COMMENTS_CLOSE_AFTER_DAYS", 30)
COMMENTS_MAX_LENGTH = envint("COMMENTS_MAX_LENGTH", 5000)
# A comment with this many links or more is held for moderation.
COMMENTS_MAX_LINKS = envint("COMMENTS_MAX_LINKS", 2)
# Case-insensitive phrases matched against name, email, website, text and IP. Editors
# can add more in the admin (Comments > Moderation phrases).
COMMENTS_MODERATION_KEYWORDS = envlist("COMMENTS_MODERATION_KEYWORDS", [])
COMMENTS_BLOCKLIST = envlist("COMMENTS_BLOCKLIST", [])
# The same IP may post once per this many seconds (HTTP 429 otherwise).
COMMENTS_FLOOD_SECONDS = envint("COMMENTS_FLOOD_SECONDS", 15)
# Bot check: a form sent sooner than this after it was rendered, or later than
# COMMENTS_FORM_MAX_AGE, goes to spam. Keep cached article pages younger than that.
COMMENTS_MIN_SECONDS = envint("COMMENTS_MIN_SECONDS", 3)
COMMENTS_FORM_MAX_AGE = envint("COMMENTS_FORM_MAX_AGE", 3 * 24 * 3600)
COMMENTS_IP_RETENTION_DAYS = envint("COMMENTS_IP_RETENTION_DAYS", 30)
# At most one "ready for review" email to the editors per this many minutes.
REVIEW_NOTIFY_EVERY_MINUTES = envint("REVIEW_NOTIFY_EVERY_MINUTES", 15)
# Who hears about pending comments; empty means every active member of "Editors".
COMMENTS_MODERATOR_EMAILS = envlist("COMMENTS_MODERATOR_EMAILS", [])
# At most one pending-comments email to moderators per this many minutes.
COMMENTS_NOTIFY_EVERY_MINUTES = envint("COMMENTS_NOTIFY_EVERY_MINUTES", 15)
# How long a follow-up confirmation link stays valid.
COMMENTS_CONFIRM_MAX_AGE = envint("COMMENTS_CONFIRM_MAX_AGE", 7 * 24 * 3600)
# Signed cookies the comment section reads: the author's own pending comment ids, and
# the saved name/email/website. A page rendered for a request carrying either one is
# personal and must not be served from or stored in a shared cache.
COMMENTS_PENDING_COOKIE = "comments_pending"
COMMENTS_AUTHOR_COOKIE = "comment_author"
# Signed cookie set by a comment's confirmation link: this browser reads the mail of
# that address. Sent only with comment posts (its path is /comments/), so pages and
# shared caches never see it.
COMMENTS_CONFIRMED_COOKIE = "comment_confirmed"
