"""Django settings, read from the environment with safe defaults for a demo.

With nothing set: SQLite in ``./var``, DEBUG off, an in-memory channel layer, a
secret key generated on first run and kept in ``./var/secret_key``.
See docs/configuration.md for every variable.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

from permanence.env import envbool, envchoice, envint, envlist, envstr

PACKAGE_DIR = Path(__file__).resolve().parent
DATA_DIR = Path(envstr("PERMANENCE_DATA_DIR", str(Path.cwd() / "var"))).resolve()


def _stored_secret(variable: str, filename: str) -> str:
    """The environment's value, else one generated once and kept in DATA_DIR (mode 0600)."""
    key = envstr(variable)
    if key:
        return key
    path = DATA_DIR / filename
    if path.exists():
        return path.read_text().strip()
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    path.touch(mode=0o600)
    path.write_text(key)
    return key


_database_url = envstr("DATABASE_URL")
# One machine (SQLite, the default) keeps a key generated once in DATA_DIR. A server database means
# nodes that may be several: each would generate its own key, and a session signed by one would be
# refused by the next, so the key must then be given, the same to every node (a single node that kept
# one in DATA_DIR goes on with it, and never generates one).
if (
    _database_url
    and not _database_url.lower().startswith("sqlite")
    and not envstr("SECRET_KEY")
    and not (DATA_DIR / "secret_key").exists()
):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set when DATABASE_URL names a database server: every node of the cluster "
        "signs sessions and links with it, so give them all the same one (a node that ran before keeps "
        f"it in {DATA_DIR / 'secret_key'}: copy that one; else generate it with: "
        "python3 -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )
SECRET_KEY = _stored_secret("SECRET_KEY", "secret_key")
DEBUG = envbool("DEBUG", False)
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # recovery codes
    "axes",
    "django_htmx",
    "channels",
    "permanence.users",
    "permanence.accounts",
    "permanence.directory",
    "permanence.scenarios",
    "permanence.calls",
    "permanence.messaging",
    "permanence.agenda",
    "permanence.planning",
    "permanence.reporting",
    "permanence.telephony",
    "django_tasks",
    "django_tasks_db",
    "permanence.contacts",
    "permanence.audit",
    "permanence.portal",
    "permanence.api",
    "permanence.privacy",
    "permanence.billing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "permanence.urls"
ASGI_APPLICATION = "permanence.asgi.application"
WSGI_APPLICATION = "permanence.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "csp.context_processors.nonce",
                "permanence.calls.phone_views.context",
            ],
        },
    },
]

# Database: SQLite file in DATA_DIR unless DATABASE_URL says otherwise. On PostgreSQL each process keeps
# a pool of connections (psycopg's): no persistent per-thread connections, which Django advises against
# under ASGI (each request's thread would hold one); DATABASE_POOL_MAX=0 opens one per request instead.
DATABASE_POOL_MAX = envint("DATABASE_POOL_MAX", 10, minimum=0)
DATABASE_POOL_TIMEOUT = envint("DATABASE_POOL_TIMEOUT", 10, minimum=1)  # seconds to wait for a connection
if _database_url:
    try:
        DATABASES = {"default": dj_database_url.parse(_database_url, conn_max_age=0, conn_health_checks=True)}
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a valid database URL: {exc}") from None
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DATABASE_POOL_MAX:
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 1,
            "max_size": DATABASE_POOL_MAX,
            "timeout": DATABASE_POOL_TIMEOUT,
        }
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # a SQLite file given by URL
        DATABASES["default"].setdefault("OPTIONS", {}).update(
            {"timeout": 20, "transaction_mode": "IMMEDIATE"}  # writers queue, as for the default file
        )
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": DATA_DIR / "permanence.sqlite3",
            # Writers queue instead of failing with "database is locked".
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Failed logins: after AXES_FAILURE_LIMIT failures for one (username, IP) pair, or for one username
# from any addresses (a guess spread over many addresses), that sign-in is locked for the cool-off
# (an operator admin unlocks it earlier: back-office, Axes, access attempts).
AXES_FAILURE_LIMIT = envint("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = envint("AXES_COOLOFF_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
AXES_CLIENT_IP_CALLABLE = "permanence.audit.trail.client_ip"  # the same address as the audit trail's

OTP_TOTP_ISSUER = envstr("OTP_TOTP_ISSUER", "Permanence")
# Operator staff who reach every account (operator admins, technical assistants: the supervisors) must
# sign in with a second factor; off only for a local demo (SECOND_FACTOR_REQUIRED=0).
SECOND_FACTOR_REQUIRED = envbool("SECOND_FACTOR_REQUIRED", True)

SESSION_COOKIE_HTTPONLY = True
# Cookies only over HTTPS unless DEBUG (a developer's machine); SECURE_COOKIES=0 for plain http
# elsewhere (`make demo`).
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_AGE = envint("SESSION_HOURS", 12, minimum=1) * 3600
# Real telephony (docs/telephony.md): Kamailio at the SIP edge, rtpengine for media, Permanence's call
# control in between. The simulator stays the default; "sip" for real calls (`permanence telephony run`
# is then the call control, and the desk rings the secretary's phone).
TELEPHONY = envchoice("TELEPHONY", "simulator", ("simulator", "sip"))
TELEPHONY_SIP_ADDRESS = envstr("TELEPHONY_SIP_ADDRESS", "127.0.0.1:5060")
TELEPHONY_WS_ADDRESS = envstr("TELEPHONY_WS_ADDRESS", "127.0.0.1:8088")
# what the browsers' softphones connect to (wss:// behind a TLS proxy in production: an HTTPS page may
# not open ws://); empty: ws:// on TELEPHONY_WS_ADDRESS, for development on one machine
TELEPHONY_WS_URL = envstr("TELEPHONY_WS_URL", "")
TELEPHONY_CONTROL_ADDRESS = envstr("TELEPHONY_CONTROL_ADDRESS", "127.0.0.1:5070")
TELEPHONY_RTPENGINE = envstr("TELEPHONY_RTPENGINE", "127.0.0.1:22222")
TELEPHONY_MEDIA_ADDRESS = envstr("TELEPHONY_MEDIA_ADDRESS", "127.0.0.1")
TELEPHONY_RTP_PORTS = envstr("TELEPHONY_RTP_PORTS", "40000-49999")
TELEPHONY_TRUNK_ADDRESSES = envlist("TELEPHONY_TRUNK_ADDRESSES")
# Registrations of the secretaries' phones (ephemeral credentials, checked by Kamailio with this shared
# secret; `permanence telephony config` refuses it empty or shorter than 16 characters; with real
# telephony and none given, one is generated once into DATA_DIR), their SIP domain (sip:desk-<user
# pk>@domain; by default the host of TELEPHONY_SIP_ADDRESS), and the carrier's gateway for the call
# control's outbound legs (e.g. sip:carrier.invalid:5060; empty: none, answered 503).
TELEPHONY_SIP_SECRET = (
    _stored_secret("TELEPHONY_SIP_SECRET", "telephony_secret")
    if TELEPHONY == "sip"
    else envstr("TELEPHONY_SIP_SECRET")
)
TELEPHONY_SIP_DOMAIN = envstr("TELEPHONY_SIP_DOMAIN") or TELEPHONY_SIP_ADDRESS.rpartition(":")[0].strip("[]")
TELEPHONY_TRUNK_GATEWAY = envstr("TELEPHONY_TRUNK_GATEWAY", "")
TELEPHONY_FALLBACK_NUMBER = envstr("TELEPHONY_FALLBACK_NUMBER", "")  # calls the call control cannot take
# A carrier's trunk by registration: Kamailio registers TELEPHONY_TRUNK_USERNAME at the carrier's
# registrar (sip:host[:port]; empty: no registration, the trunk is known by its addresses only), takes
# the calls it sends to that contact, sends the outbound legs there (unless TELEPHONY_TRUNK_GATEWAY is
# set) and answers the carrier's digest challenges. The password is written only into Kamailio's table
# uacreg (readable by its owner only); the realm, when empty, is the one the carrier's challenge names.
TELEPHONY_TRUNK_REGISTRAR = envstr("TELEPHONY_TRUNK_REGISTRAR", "")
TELEPHONY_TRUNK_USERNAME = envstr("TELEPHONY_TRUNK_USERNAME", "")
TELEPHONY_TRUNK_PASSWORD = envstr("TELEPHONY_TRUNK_PASSWORD", "")
TELEPHONY_TRUNK_REALM = envstr("TELEPHONY_TRUNK_REALM", "")
TELEPHONY_TRUNK_EXPIRES = envint("TELEPHONY_TRUNK_EXPIRES", 600, minimum=60)  # seconds
# The desk: how long an offer rings, and the team's rule for a secretary who lets offers ring out.
DESK_OFFER_SECONDS = envint("DESK_OFFER_SECONDS", 15, minimum=5)
DESK_PAUSE_AFTER_MISSED_OFFERS = envint("DESK_PAUSE_AFTER_MISSED_OFFERS", 0, minimum=0)

LANGUAGE_CODE = "fr"
LANGUAGES = [("fr", _("French")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Europe/Paris"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
# Uploaded files (the accounts' waiting message and music): read by the call control and rtpengine,
# never served to browsers
MEDIA_ROOT = DATA_DIR / "media"
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
try:  # WhiteNoise serves from the apps' folders (finders); it wants this folder to exist.
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)
except OSError as exc:
    raise ImproperlyConfigured(f"Cannot create the data folder {STATIC_ROOT}: {exc}") from None
# Static files: served by WhiteNoise from the apps' folders (a single machine, `make demo`), or, with
# STATIC_COLLECTED=1, from STATIC_ROOT as `permanence collectstatic` wrote them: names carry a hash of the
# content, so browsers and proxies may keep them forever and every node serves the same files.
STATIC_COLLECTED = envbool("STATIC_COLLECTED", False)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "permanence.staticstorage.CollectedStaticStorage"
        if STATIC_COLLECTED
        else "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_COLLECTED

# Real-time pages: in-memory layer for one process, Redis for several.
_redis_url = envstr("REDIS_URL")
if _redis_url:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # The layer waits for messages with BZPOPMIN for 5 s at a time: a read timeout of its own
            # (redis-py's default is 5 s too) would break each quiet desk socket; and a pool wide enough
            # for a wave of desks connecting again after a web node restarts.
            "CONFIG": {"hosts": [{"address": _redis_url, "socket_timeout": 30, "socket_connect_timeout": 5,
                                  "max_connections": 2000}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Contacts CSV import limits.
CONTACTS_IMPORT_MAX_BYTES = envint("CONTACTS_IMPORT_MAX_BYTES", 5 * 1024 * 1024, minimum=1024)
CONTACTS_IMPORT_MAX_ROWS = envint("CONTACTS_IMPORT_MAX_ROWS", 20000, minimum=1)

# Privacy (GDPR, docs/privacy.md): how long callers' data is kept, in months, when an account has not
# chosen (privacy.RetentionPolicy); past it the worker empties calls (the caller's number, the scenario's
# answers), messages and appointments of the caller's data (the rows stay: the figures keep their counts)
# and deletes the contacts not seen for that long. Recordings and voicemails keep their own periods (days,
# per account). Invoices, when billing exists, are kept ten years and never purged.
PRIVACY_RETENTION_CALLS_MONTHS = envint("PRIVACY_RETENTION_CALLS_MONTHS", 12, minimum=1)
PRIVACY_RETENTION_MESSAGES_MONTHS = envint("PRIVACY_RETENTION_MESSAGES_MONTHS", 12, minimum=1)
PRIVACY_RETENTION_APPOINTMENTS_MONTHS = envint("PRIVACY_RETENTION_APPOINTMENTS_MONTHS", 12, minimum=1)
PRIVACY_RETENTION_CONTACTS_MONTHS = envint("PRIVACY_RETENTION_CONTACTS_MONTHS", 36, minimum=1)

# Billing (docs/billing.md): the operator's details on its invoices (Factur-X: name, address, VAT number
# and SIRET are required to issue), the VAT rate, the payment terms and the legal mentions ("|" between
# lines). The defaults are the demo's made-up company.
BILLING_SELLER_NAME = envstr("BILLING_SELLER_NAME", "Permanence Démo SAS")
BILLING_SELLER_ADDRESS = envstr("BILLING_SELLER_ADDRESS", "12 rue des Standardistes")
BILLING_SELLER_POSTCODE = envstr("BILLING_SELLER_POSTCODE", "69002")
BILLING_SELLER_CITY = envstr("BILLING_SELLER_CITY", "Lyon")
BILLING_SELLER_COUNTRY = envstr("BILLING_SELLER_COUNTRY", "FR")
BILLING_SELLER_VAT_ID = envstr("BILLING_SELLER_VAT_ID", "FR11999999998")
BILLING_SELLER_SIRET = envstr("BILLING_SELLER_SIRET", "99999999800019")
BILLING_SELLER_EMAIL = envstr("BILLING_SELLER_EMAIL", "facturation@permanence.invalid")
BILLING_SELLER_IBAN = envstr("BILLING_SELLER_IBAN", "")
BILLING_VAT_RATE = envstr("BILLING_VAT_RATE", "0.20")
BILLING_PAYMENT_DAYS = envint("BILLING_PAYMENT_DAYS", 30, minimum=0)
BILLING_INVOICE_PREFIX = envstr("BILLING_INVOICE_PREFIX", "F")
BILLING_CREDIT_NOTE_PREFIX = envstr("BILLING_CREDIT_NOTE_PREFIX", "A")
BILLING_LEGAL_MENTIONS = envstr(
    "BILLING_LEGAL_MENTIONS",
    "En cas de retard de paiement : pénalités au taux de trois fois le taux d'intérêt légal "
    "et indemnité forfaitaire pour frais de recouvrement de 40 € (art. L441-10 du Code de commerce).|"
    "Pas d'escompte pour paiement anticipé.",
)

# Default region for phone numbers written without an international prefix.
PHONE_DEFAULT_REGION = envstr("PHONE_DEFAULT_REGION", "FR")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "WARNING")},
}

if not DEBUG:
    SECURE_CONTENT_TYPE_NOSNIFF = True

# Behind reverse proxies (a load balancer in front of the web nodes): PROXY_COUNT is how many of them
# add themselves to X-Forwarded-For. Then the scheme and host they were asked for are believed
# (X-Forwarded-Proto, X-Forwarded-Host), and the client's address is the one the outermost proxy saw:
# what the audit trail records and what failed sign-ins are counted against. With 0 (nothing in front),
# those headers are ignored: anyone could write them.
PROXY_COUNT = envint("PROXY_COUNT", 0, minimum=0)
if PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # the load balancer asks over plain http
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0, minimum=0)

# Monitoring (docs/monitoring.md): /metrics answers a Prometheus server that sends this token as a
# bearer token; with none set, only requests from the machine itself (loopback).
METRICS_TOKEN = envstr("METRICS_TOKEN")

# Desk dispatch: "inline" (one node: the request that makes a call wait or a secretary ready dispatches
# after its commit) or "dispatcher" (several nodes, PostgreSQL: those requests only wake the cluster's one
# dispatcher, `permanence dispatcher` or a worker's dispatch loop, through NOTIFY).
DISPATCH = envchoice("DISPATCH", "inline", ("inline", "dispatcher"))
if DISPATCH == "dispatcher" and DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise ImproperlyConfigured(
        "DISPATCH=dispatcher needs PostgreSQL (DATABASE_URL): the nodes wake the dispatcher through it"
    )
# Content Security Policy (django-csp): scripts come from this site only, plus the few inline scripts
# of the pages, which carry the request's nonce (nonce="{{ CSP_NONCE }}"); no eval, no inline event
# handlers (static/permanence/page.js does what they did). Inline styles stay allowed: style attributes,
# htmx's indicator style, the SVG that Mermaid and Swagger UI draw. 'self' covers ws:/wss: to this
# host (the desk's socket); the desk phone's page adds Kamailio's WebSocket (calls/phone_views.py).
# Pages may be framed by this site only (the desk phone's shell), as X_FRAME_OPTIONS says.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:"],  # Swagger UI's icons; QR codes are inline SVG
        "connect-src": [SELF],
        "media-src": [SELF],  # recordings, voicemails, prompts: this site's URLs, no blob:
        "worker-src": [SELF],  # the web app's service worker, /app/sw.js
        "manifest-src": [SELF],
        "frame-src": [SELF],
        "frame-ancestors": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
    },
}
# Pages may be framed by the same site only: the desk phone's shell (/desk/phone/) frames the desk's
# pages so that a call survives their changes; the shell itself refuses any frame.
X_FRAME_OPTIONS = "SAMEORIGIN"

# Background work (django-tasks): tasks stored in the database, run by `permanence worker`.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# Scale-out: TASKS_BACKEND=rq puts the tasks on Redis (REDIS_URL), run by `permanence worker` too.
TASKS_BACKEND = envstr("TASKS_BACKEND", "db")
if TASKS_BACKEND == "rq":
    if not _redis_url:
        raise ImproperlyConfigured("TASKS_BACKEND=rq needs REDIS_URL, e.g. redis://127.0.0.1:6379/0.")
    INSTALLED_APPS.append("django_rq")
    RQ_QUEUES = {"default": {"URL": _redis_url, "DEFAULT_TIMEOUT": 300}}
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
elif TASKS_BACKEND != "db":
    raise ImproperlyConfigured(f"TASKS_BACKEND is {TASKS_BACKEND!r}: write db (the default) or rq.")

# Messages: e-mail through Django (SMTP by default: EMAIL_HOST, EMAIL_PORT...), SMS through an HTTP gateway.
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Permanence <permanence@localhost>")
EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_FILE_PATH = envstr("EMAIL_FILE_PATH", str(DATA_DIR / "outbox"))  # for the file backend (the demo)
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25, minimum=1)
# An SMTP relay that wants a sign-in and encryption (most do): STARTTLS or implicit TLS, not both.
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured(
        "EMAIL_USE_TLS (STARTTLS) and EMAIL_USE_SSL (implicit TLS): set one of them, not both"
    )
MESSAGING_MESSAGE_ID_DOMAIN = envstr("MESSAGING_MESSAGE_ID_DOMAIN", "permanence.invalid")
# Providers through django-anymail: EMAIL_BACKEND=anymail.backends.mailgun.EmailBackend (brevo,
# postmark, amazon_ses...) and its settings as ANYMAIL_* variables (e.g. ANYMAIL_MAILGUN_API_KEY).
for _name, _value in os.environ.items():
    if _name.startswith("ANYMAIL_"):
        globals()[_name] = _value
# SMS: SMS_PROVIDER "http" (a generic gateway, SMS_GATEWAY_URL is a URL template), "twilio", or "file"
# (each SMS written to a file in SMS_FILE_PATH and counted as sent: the demo).
SMS_PROVIDER = envstr("SMS_PROVIDER", "http")
SMS_FILE_PATH = envstr("SMS_FILE_PATH", str(DATA_DIR / "outbox-sms"))
SMS_GATEWAY_URL = envstr("SMS_GATEWAY_URL", "")
SMS_GATEWAY_METHOD = envstr("SMS_GATEWAY_METHOD", "POST")
SMS_GATEWAY_TOKEN = envstr("SMS_GATEWAY_TOKEN", "")
# the secret the gateway signs received SMS with (Standard Webhooks), to /hooks/sms/inbound/
SMS_GATEWAY_INBOUND_SECRET = envstr("SMS_GATEWAY_INBOUND_SECRET", "")
TWILIO_ACCOUNT_SID = envstr("TWILIO_ACCOUNT_SID", "")
TWILIO_AUTH_TOKEN = envstr("TWILIO_AUTH_TOKEN", "")
TWILIO_FROM = envstr("TWILIO_FROM", "")
TWILIO_MESSAGING_SERVICE_SID = envstr("TWILIO_MESSAGING_SERVICE_SID", "")
SMS_SENDER = envstr("SMS_SENDER", "Permanence")
SMS_MAX_PARTS = envint("SMS_MAX_PARTS", 3, minimum=1)
MESSAGING_RETRY_BASE_SECONDS = float(envstr("MESSAGING_RETRY_BASE_SECONDS", "30"))
MESSAGING_LEASE_SECONDS = float(envstr("MESSAGING_LEASE_SECONDS", "120"))
MESSAGING_SWEEP_GRACE_SECONDS = float(envstr("MESSAGING_SWEEP_GRACE_SECONDS", "60"))
# Collaborators' own calendars (CalDAV) are synced this often (more seldom after failures).
CALENDAR_SYNC_SECONDS = envint("CALENDAR_SYNC_SECONDS", 300, minimum=10)
# Calendar addresses on a private network (loopback, LAN) are refused unless allowed (SSRF).
CALENDAR_ALLOW_PRIVATE_ADDRESSES = envbool("CALENDAR_ALLOW_PRIVATE_ADDRESSES", False)
# Requests to addresses that users type (CalDAV calendars, webhooks, Web Push endpoints) reach public
# addresses only (SSRF), checked on every connection and redirect (permanence/outbound.py); these
# networks are allowed too: comma-separated CIDRs, e.g. the LAN of an in-house CalDAV server.
# (CALENDAR_ALLOW_PRIVATE_ADDRESSES, older, lifts the filter for calendars altogether.)
OUTBOUND_ALLOWED_NETWORKS = envlist("OUTBOUND_ALLOWED_NETWORKS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")  # for links in messages (acknowledgement)
