"""Settings shared by every environment, read from environment variables."""

import os
from pathlib import Path

from csp import constants as csp_constants
from django.utils.translation import gettext_lazy as _

from . import env as envconf

ENV = os.environ
BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = ENV.get("SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = envconf.env_list(ENV, "ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
SITE_URL = envconf.site_url(ENV)
WAGTAILADMIN_BASE_URL = SITE_URL
CSRF_TRUSTED_ORIGINS = envconf.trusted_origins(SITE_URL)

INSTALLED_APPS = [
    # project apps first so their templates override the libraries'
    "website",
    "website.clinic",
    "portal.accounts",
    "portal.records",
    "portal",
    "booking.scheduling",
    "booking.billing",
    "booking.packs",
    "booking.widget",
    "booking.notifications",
    "blog",
    "resources",
    # Wagtail
    "wagtail.contrib.forms",
    "wagtail.contrib.redirects",
    "wagtail.contrib.settings",
    "wagtail.contrib.sitemaps",
    "wagtail.contrib.search_promotions",
    "wagtail.contrib.routable_page",
    "wagtail.embeds",
    "wagtail.sites",
    "wagtail.users",
    "wagtail.snippets",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    # accounts
    "allauth",
    "allauth.account",
    "allauth.mfa",
    # the rest
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_htmx",
    "csp",
    "anymail",
    "huey.contrib.djhuey",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sitemaps",
    "django.contrib.humanize",
]

MIDDLEWARE = [
    "website.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Early, so that the redirects of the middleware below (log in, two-factor) carry the policy too; and before
    # the embed's middleware, whose frame-ancestors is merged into the one policy this builds.
    "website.csp.ClinicCSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.accounts.middleware.RequireMFAMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "booking.widget.embed.EmbedMiddleware",
    "wagtail.contrib.redirects.middleware.RedirectMiddleware",
    # Last, so that its process_exception sees the view's error first, with the request's language active.
    "website.middleware.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "website.urls"
WSGI_APPLICATION = "website.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "wagtail.contrib.settings.context_processors.settings",
                "website.context_processors.site_chrome",
                "booking.widget.context_processors.widget_frame",
                "website.csp.csp_nonce",
            ],
        },
    },
]

DATABASES = {"default": envconf.database_config(ENV, BASE_DIR)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = ENV.get("REDIS_URL", "").strip()
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "clinic",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

HUEY = envconf.huey_config(ENV, BASE_DIR, immediate=envconf.env_bool(ENV, "HUEY_IMMEDIATE", False))
# systemd and container runtimes stop a service with SIGTERM: the consumer then finishes the tasks it holds (for at
# most HUEY_SHUTDOWN_TIMEOUT seconds; give the service manager longer, see the README) instead of dropping them.
# SIGINT (Ctrl-C) stops it at once.
HUEY["consumer"] |= {"graceful_signal": "TERM", "shutdown_timeout": int(ENV.get("HUEY_SHUTDOWN_TIMEOUT", "25"))}
# A task that dies with its consumer is lost from the queue; the notifications outbox (booking.notifications) keeps
# its rows in the database instead. A row a dispatcher claimed and left "sending" (the worker died) is taken again
# once the claim is this old: longer than any send takes.
OUTBOX_CLAIM_LEASE_SECONDS = 600
# Stripe calls decided in a transaction (refunds, closing checkouts) run in a huey task after the commit, retried
# this many times when Stripe cannot be reached, first after this many seconds and then twice as long each time.
BILLING_PROVIDER_RETRIES = int(ENV.get("BILLING_PROVIDER_RETRIES", "5"))
BILLING_PROVIDER_RETRY_DELAY = int(ENV.get("BILLING_PROVIDER_RETRY_DELAY", "30"))

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "portal:home"
LOGOUT_REDIRECT_URL = "/"

# django-allauth: email is the login; verification is mandatory.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED = True
# A patient who signed up while booking has no password: they sign in again with an emailed code
# (allauth still asks users who have two-factor authentication for their second factor).
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# The code pages offer "Request new code" (twice per flow; then "Cancel" starts again and sends a fresh one).
ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND = True
ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# Tell users by email when their password, email addresses or two-factor settings change.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "reset_password": "20/m/ip,5/m/key",
    "reset_password_from_key": "20/m/ip",
    # The first verification code and its two resends; allauth's 1/3m would answer a resend with a 429 page.
    "confirm_email": "3/5m/key",
}
# The client's address behind our reverse proxy (README, "Deployment"): without it every visitor shares the
# proxy's address and ten failed logins lock everyone out. 0 (``make run``, no proxy) ignores X-Forwarded-For,
# so nobody can choose their own address; the per-account limit ("key" above) holds either way.
ALLAUTH_TRUSTED_PROXY_COUNT = envconf.trusted_proxy_count(ENV)
# A header our proxy always overwrites with the client's address (e.g. X-Real-IP); it wins over the count.
ALLAUTH_TRUSTED_CLIENT_IP_HEADER = ENV.get("TRUSTED_CLIENT_IP_HEADER", "").strip() or None
ACCOUNT_ADAPTER = "portal.accounts.adapters.AccountAdapter"
ACCOUNT_FORMS = {"signup": "portal.accounts.forms.SignupForm"}
ACCOUNT_EMAIL_SUBJECT_PREFIX = ""
MFA_ADAPTER = "allauth.mfa.adapter.DefaultMFAAdapter"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = ENV.get("CLINIC_NAME", "Clínica")

# Internationalisation: Spanish (Chile) first, English second.
LANGUAGE_CODE = ENV.get("LANGUAGE_CODE", "es-cl")
LANGUAGES = [("es-cl", _("Spanish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
FORMAT_MODULE_PATH = ["website.formats"]
TIME_ZONE = ENV.get("TIME_ZONE", "America/Santiago")
USE_I18N = True
USE_TZ = True
WAGTAIL_I18N_ENABLED = False
WAGTAILADMIN_PERMITTED_LANGUAGES = [("es", "Español"), ("en", "English")]
WAGTAIL_CONTENT_LANGUAGES = [("es-cl", "Español")]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = []
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(ENV.get("MEDIA_ROOT") or BASE_DIR / "media")
# Clinical notes are encrypted with these Fernet keys (comma-separated, newest first; portal.records.crypto).
# Never derived from SECRET_KEY. Production refuses to start without them; dev and tests set their own.
RECORDS_ENCRYPTION_KEYS = envconf.env_list(ENV, "RECORDS_ENCRYPTION_KEYS")
# Documents shared with one patient (portal.records): outside MEDIA_ROOT, served only through the portal's view.
PRIVATE_MEDIA_ROOT = Path(ENV.get("PRIVATE_MEDIA_ROOT") or BASE_DIR / "private_media")
STORAGES = envconf.storage_config(ENV)

_email = envconf.email_config(ENV)
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
ANYMAIL = _email["ANYMAIL"]
DEFAULT_FROM_EMAIL = ENV.get("DEFAULT_FROM_EMAIL", "Clínica <no-reply@clinic.localhost>")
SERVER_EMAIL = ENV.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)

# The payment providers online payments can go through (booking.billing.providers); the first one switched on
# takes new payments. Each switches itself on from its own settings (Stripe: STRIPE_SECRET_KEY).
BILLING_PAYMENT_PROVIDERS = ["booking.billing.providers.stripe.StripeProvider"]
globals().update(envconf.stripe_config(ENV))
# The port of the local test server the site pays through (`make run`, dev settings only); None: Stripe itself.
STRIPE_LOCAL_PORT = None

WAGTAIL_SITE_NAME = ENV.get("CLINIC_NAME", "Clínica")
WAGTAILSEARCH_BACKENDS = {"default": {"BACKEND": "wagtail.search.backends.database"}}
WAGTAIL_GRAVATAR_PROVIDER_URL = None
WAGTAILDOCS_SERVE_METHOD = "serve_view"
WAGTAILEMBEDS_RESPONSIVE_HTML = True
WAGTAIL_ENABLE_UPDATE_CHECK = False
WAGTAIL_ALLOW_UNICODE_SLUGS = False
TAGGIT_CASE_INSENSITIVE = True

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

REST_FRAMEWORK = {
    # Token first: its "WWW-Authenticate: Token" header makes an anonymous call a 401, not a 403. The browser's
    # session (with CSRF) still works for the site's own pages.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "booking.scheduling.api.authentication.TwoFactorTokenAuthentication",
        "booking.scheduling.api.authentication.TwoFactorSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Per address for anonymous clients (the address allauth sees, proxy-aware), per user once logged in; the
    # booking and reschedule endpoints add the stricter "booking" scope. A refusal is a 429 in the API's shape.
    "DEFAULT_THROTTLE_CLASSES": [
        "booking.scheduling.api.throttles.AnonThrottle",
        "booking.scheduling.api.throttles.UserThrottle",
        "booking.scheduling.api.throttles.ScopedThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": envconf.throttle_rates(ENV),
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Clinic booking API",
    "DESCRIPTION": "Services, professionals, availability and appointments.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "PREPROCESSING_HOOKS": ["booking.scheduling.api.schema.only_public_api"],
    # Services offer "both" modalities, an appointment has one: two enums behind fields named "modality".
    "ENUM_NAME_OVERRIDES": {
        "ServiceModalityEnum": "booking.scheduling.models.catalog.Modality",
        "AppointmentModalityEnum": "booking.scheduling.models.appointments.AppointmentModality",
        "AppointmentStatusEnum": "booking.scheduling.models.appointments.AppointmentStatus",
        "PurchaseStatusEnum": "booking.packs.models.PurchaseStatus",
    },
}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SAMESITE = "Lax"
X_FRAME_OPTIONS = "SAMEORIGIN"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# Failures are reported, not only printed: every ERROR log line (a 500, a failed task, webhook or reminder) is
# emailed to ADMINS when set, and sent to Sentry when SENTRY_DSN is set (its logging integration picks up the
# same lines; the huey integration also reports the task's exception).
ADMINS = envconf.admins(ENV)
SENTRY_ENABLED = envconf.init_sentry(ENV)
# /healthz fails when the every-minute heartbeat task (website/tasks.py) last ran longer ago than this.
HEARTBEAT_MAX_AGE_MINUTES = int(ENV.get("HEARTBEAT_MAX_AGE_MINUTES", "5"))

# --- Video rooms of online sessions (booking/scheduling/video.py, the portal's video page) ----------------------
# Every online session gets its own unguessable room under VIDEO_BASE_URL (the public Jitsi Meet unless set).
# The room opens in a new tab: meet.jit.si ends embedded calls after 5 minutes. VIDEO_EMBED=true shows the room
# inside the portal's video page instead (and lets frame-src reach VIDEO_BASE_URL's origin on that page only):
# for a self-hosted server that allows it.
VIDEO_BASE_URL = envconf.video_base_url(ENV)
VIDEO_EMBED = envconf.env_bool(ENV, "VIDEO_EMBED", False)

# --- Content-Security-Policy (django-csp 4.0; website/csp.py chooses the policy per path) ---------------------
# Everything the site loads is served by itself: scripts and styles from /static/, htmx through django-htmx's
# {% htmx_script %} (which prints the nonce). No inline script runs anywhere; the nonce is there for htmx's own
# indicator <style> and for any script a template must inline, and appears in the header only on pages that use it.
# Video embeds (the embed block, professionals' videos) are YouTube and Vimeo iframes. Images may be data: URIs
# (Bootstrap's form controls, the two-factor QR code). The media bucket and Stripe Checkout are added per response
# from the deployment's settings (website/csp.py). frame-ancestors repeats X_FRAME_OPTIONS; the booking embed
# widens it to the clinic's allowed origins (booking/widget/embed.py).
CSP_VIDEO_FRAME_SOURCES = [
    "https://www.youtube.com",
    "https://www.youtube-nocookie.com",
    "https://player.vimeo.com",
]
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF],
        "connect-src": [csp_constants.SELF],
        "frame-src": [csp_constants.SELF, *CSP_VIDEO_FRAME_SOURCES],
        "frame-ancestors": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "base-uri": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
    },
}
# Wagtail's admin runs inline scripts and styles of its own (and its rich-text editor builds styles at run time),
# which the project cannot nonce: it gets 'unsafe-inline' for both, and blob: images for upload previews.
# Everything else stays as strict as on the site. The admin is for logged-in staff with two-factor only.
ADMIN_CONTENT_SECURITY_POLICY = {
    "URL_PREFIXES": ["/admin/"],
    "DIRECTIVES": {
        **CONTENT_SECURITY_POLICY["DIRECTIVES"],
        "script-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "style-src": [csp_constants.SELF, csp_constants.UNSAFE_INLINE],
        "img-src": [csp_constants.SELF, "data:", "blob:"],
        "font-src": [csp_constants.SELF, "data:"],
    },
}

LOG_LEVEL = ENV.get("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        # key=value pairs on one line: easy to grep and to parse.
        "keyvalue": {
            "format": "ts=%(asctime)s level=%(levelname)s logger=%(name)s msg=%(message)s",
        },
    },
    "filters": {"require_debug_false": {"()": "django.utils.log.RequireDebugFalse"}},
    "handlers": {
        "stdout": {"class": "logging.StreamHandler", "formatter": "keyvalue"},
        # Sends nothing while ADMINS is empty.
        "mail_admins": {
            "level": "ERROR",
            "filters": ["require_debug_false"],
            "class": "django.utils.log.AdminEmailHandler",
        },
    },
    "root": {"handlers": ["stdout", "mail_admins"], "level": LOG_LEVEL},
    "loggers": {
        "django": {"handlers": ["stdout", "mail_admins"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # Scanners that ask for another host name: a log line each, not an email each.
        "django.security.DisallowedHost": {"handlers": ["stdout"], "propagate": False},
        "django_tasks": {"level": "WARNING"},
        # huey logs every periodic run at INFO; warnings and failures are what an operator needs.
        "huey": {
            "handlers": ["stdout", "mail_admins"],
            "level": ENV.get("HUEY_LOG_LEVEL", "WARNING"),
            "propagate": False,
        },
        # WeasyPrint and fontTools log every font subset at INFO while rendering a receipt.
        "weasyprint": {"level": "ERROR"},
        "fontTools": {"level": "WARNING"},
    },
}
