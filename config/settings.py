"""Settings, read from the environment (django-environ).

`make run` and `make test` write a `.env` with generated secrets on first use; deployments set real
variables instead. SQLite and a filesystem Celery transport are the defaults, so nothing external is needed;
DATABASE_URL and REDIS_URL switch to PostgreSQL and Redis.

The `.env` is for local development only: it is read when it exists and DJANGO_READ_DOT_ENV is not false. The
image sets DJANGO_READ_DOT_ENV=false, so a container takes its settings from its environment alone, even when a
project folder with a developer's `.env` (DEBUG on, development keys) is mounted into it.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()
if env.bool("DJANGO_READ_DOT_ENV", default=True) and (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")  # never overrides a variable the environment already sets

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY")  # no default: a missing secret fails at start
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

#: Fernet keys for secrets at rest, newest first; older keys still decrypt (rotation).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS")

#: Where this site is reachable; webhook URLs shown to administrators and sandbox callbacks use it.
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
#: Base address of the built-in provider simulators (integrations in the "sandbox" environment).
SANDBOX_BASE_URL = env.str("SANDBOX_BASE_URL", default=f"{SITE_URL}/sandbox").rstrip("/")
#: Serve the built-in provider simulators under /sandbox/ (demo data and tests use them). Production sets false:
#: every sandbox view then answers 404.
SANDBOX_ENABLED = env.bool("SANDBOX_ENABLED", default=True)
#: Strict sandboxes refuse every request parameter they do not model (as the provider refuses one it does not
#: know), so nothing an adapter sends is silently ignored. A list of provider keys, or true/false for all.
SANDBOX_STRICT = env.str("SANDBOX_STRICT", default="true")
#: how long every simulated provider call takes, in milliseconds: a benchmark models a remote provider with it
SANDBOX_LATENCY_MS = env.int("SANDBOX_LATENCY_MS", default=0)
#: provider calls the capture sweep makes at once in each worker process (each capture keeps its three steps)
CAPTURE_SWEEP_THREADS = env.int("CAPTURE_SWEEP_THREADS", default=16)
#: the sandboxes' own rate limit per integration, operations per second (0: none; providers' own limits apply to
#: their test and live environments)
SANDBOX_RATE_LIMIT = env.float("SANDBOX_RATE_LIMIT", default=0.0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "import_export",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "customers",
    "integrations",
    "orders",
    "payments",
    "payment_rules",
    "notifications",
    "backoffice",
    "sandbox",
    "providers.stripe",
    "providers.payflow",
    "providers.authorizenet",
    "providers.infinitepay",
    "providers.oropay",
    "providers.apruve",
    "providers.wirecard",
    "demo",
    "checkout",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # each provider package brings its storefront widget (providers/<key>/templates/<key>/widget.html)
        "DIRS": [BASE_DIR / "templates", *sorted(BASE_DIR.glob("providers/*/templates"))],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            "libraries": {"money": "core.templatetags"},
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialise writers at BEGIN, so the web process and the worker queue up on
    # the lock instead of failing with "database is locked" when a read turns into a write.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

#: the first reads the buyer with the user (one query per request, not two); Django's own stays for sessions
#: signed in with it before
AUTHENTICATION_BACKENDS = ["customers.backends.BuyerModelBackend", "django.contrib.auth.backends.ModelBackend"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("de", "Deutsch"), ("fr", "Français")]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"
# the site's own files (favicon), then the provider widgets' scripts and styles
STATICFILES_DIRS = [BASE_DIR / "static", *sorted(BASE_DIR.glob("providers/*/static"))]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# --- storefront -------------------------------------------------------------------------------------
#: provider key whose first live integration pays invoices (always as a charge; offline methods: pending)
INVOICE_PAYMENT_METHOD = env.str("INVOICE_PAYMENT_METHOD", default="stripe")
INVOICE_NUMBER_PREFIX = env.str("INVOICE_NUMBER_PREFIX", default="INV-")
INVOICE_DUE_DAYS = env.int("INVOICE_DUE_DAYS", default=30)
#: where goods ship from (payment rules read it as shippingOrigin): "country=US,region_code=US-IL,postal_code=…"
SHIPPING_ORIGIN = env.dict(
    "SHIPPING_ORIGIN",
    default={
        "country": "US",
        "region_code": "US-IL",
        "region_name": "Illinois",
        "postal_code": "60607",
        "city": "Chicago",
        "street": "1200 W Fulton Market",
    },
)
#: how long a second "Place order" waits for the first one's answer before the buyer is shown a page that waits
CHECKOUT_SUBMIT_WAIT_SECONDS = env.float("CHECKOUT_SUBMIT_WAIT_SECONDS", default=10.0)

# --- security (production defaults; a local .env relaxes them for plain http) -----------------------
# Behind a TLS-terminating proxy (the compose file's Caddy, a load balancer) the request reaches us over http;
# the proxy's X-Forwarded-Proto says whether the client used https. Trust it only when a proxy that sets it
# (and drops a client's own) stands in front: otherwise any client could claim https.
if env.bool("DJANGO_SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env.bool("DJANGO_USE_X_FORWARDED_HOST", default=False)
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=False)
# Preloading is a commitment each deployment makes for its domain (DJANGO_HSTS_PRELOAD), not a default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

# --- REST API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # the token first: a request without credentials is answered 401 with its challenge, not 403
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.ApiCursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "EXCEPTION_HANDLER": "api.errors.api_exception_handler",
    "DATETIME_FORMAT": "iso-8601",
    "COERCE_DECIMAL_TO_STRING": True,
    "DEFAULT_THROTTLE_RATES": {"auth": env.str("API_AUTH_RATE", default="10/minute")},
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Paydesk API",
    "DESCRIPTION": (
        "The back-office and a headless checkout over REST. Authenticate with a per-user token "
        "(`Authorization: Bearer pd_…`) or the site's session. Amounts are decimal strings with their currency; "
        'times are ISO 8601; errors are `{"error": {"code", "message", "field"}}`. POSTs that move money '
        "or create something take an `Idempotency-Key` header."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI and Redoc from this site's static files (drf-spectacular-sidecar), never from a CDN
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.schema.add_error_responses",
    ],
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatusEnum": "orders.models.PaymentStatus",
        "InvoiceStatusEnum": "orders.models.Invoice.Status",
        "WebhookEventStatusEnum": "payments.models.WebhookEvent.Status",
        "TransactionStateEnum": "payments.models.State",
    },
}

# --- Celery -------------------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_DATA_DIR = Path(env.str("CELERY_DATA_DIR", default=str(BASE_DIR / "var" / "celery")))
CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object]
#: Every task finishes within these limits (seconds): provider calls time out far sooner (Stripe 5 + 30 s with one
#: retry, Payflow 5 + 45 s, Authorize.Net 5 + 30 s; at most three calls per task), and a sweep cut short resumes
#: at its next run. A task killed mid-call leaves its row reserved for reconcile, as a crash would.
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_TIME_LIMIT = 300
# what a task prints (the console e-mail backend's messages) is output, not a warning
CELERY_WORKER_REDIRECT_STDOUTS_LEVEL = "INFO"
#: Celery closes every database connection before and after each task unless this is set (its Django fixup), so
#: each task opened a new PostgreSQL connection: about a third of a webhook event's worker CPU, and a backend
#: started per task on the database's side. A worker now keeps its connection for this many tasks, and between
#: tasks it is closed as Django closes a request's (`config.celery`): when broken, left in a transaction, or older
#: than CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
#: the longest a retry waits (countdown) inside a worker, unacknowledged, before it runs
TASK_RETRY_COUNTDOWN_MAX = 240
#: Redis hands a message that is not acknowledged within this time to another worker. It must outlast the longest
#: a message legitimately stays unacknowledged (a retry's countdown, then a run to the hard time limit), or a
#: slow task runs twice; it should be short, because it is also how long a killed worker's messages wait.
#: Webhook events do not wait for it: the inbox sweep re-enqueues them after two minutes.
BROKER_VISIBILITY_TIMEOUT = TASK_RETRY_COUNTDOWN_MAX + CELERY_TASK_TIME_LIMIT + 60
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT}
else:
    # No services at all: a real worker and beat still run, exchanging messages through folders.
    CELERY_BROKER_URL = "filesystem://localhost/"  # a host name, or kombu warns on every connection it opens
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_DATA_DIR / "queue"),
        "data_folder_out": str(CELERY_DATA_DIR / "queue"),
        "control_folder": str(CELERY_DATA_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "scheduled-captures": {"task": "payments.tasks.scheduled_captures_sweep_task", "schedule": 60.0},
    "reconcile": {"task": "payments.tasks.reconcile_sweep_task", "schedule": 60.0},
    "authorization-expiry": {"task": "payments.tasks.authorizations_expiry_sweep_task", "schedule": 900.0},
    "api-idempotency-keys": {"task": "api.tasks.idempotency_keys_purge_task", "schedule": 3600.0},
    "re-authorization": {"task": "payments.tasks.reauthorizations_sweep_task", "schedule": 900.0},
    "webhook-inbox": {"task": "payments.tasks.webhook_events_requeue_task", "schedule": 60.0},
    "given-up-orders": {"task": "payments.tasks.orders_release_sweep_task", "schedule": 300.0},
    "waiting-webhook-events": {"task": "payments.tasks.webhook_events_waiting_sweep_task", "schedule": 60.0},
    "checkout-attempts": {"task": "checkout.tasks.checkout_attempts_settle_sweep_task", "schedule": 60.0},
    "unsent-buyer-emails": {"task": "notifications.tasks.buyer_emails_resend_sweep_task", "schedule": 300.0},
}
#: warn this long before an authorization lapses at the provider (email and back-office notice)
AUTHORIZATION_EXPIRY_WARNING_HOURS = env.int("AUTHORIZATION_EXPIRY_WARNING_HOURS", default=24)
#: who is emailed about lapsing authorizations and payments nobody could settle (besides integration owners)
PAYMENT_ALERT_EMAILS = env.list("PAYMENT_ALERT_EMAILS", default=[])
CELERY_TIMEZONE = TIME_ZONE

# --- logging ------------------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# with EMAIL_BACKEND=django.core.mail.backends.filebased.EmailBackend: one file per e-mail here
EMAIL_FILE_PATH = env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="payments@paydesk.localhost")
# with EMAIL_BACKEND=django.core.mail.backends.smtp.EmailBackend: the mail server (README, Configuration)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
