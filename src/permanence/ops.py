"""Monitoring endpoints for a deployment of several processes (docs/monitoring.md).

``GET /healthz``: for a load balancer. The database answers a ``SELECT 1`` and, when the channel layer
is on Redis, every Redis host of it answers a PING (2 s at most). JSON, 200 or 503; no sign-in, nothing
but "ok", "absent" or the class name of the error, never cached.

``GET /metrics``: for Prometheus, in its text format. Read from the database at scrape time with a few
aggregate queries (their number does not grow with the data), no label per account. With
``METRICS_TOKEN`` set, the scraper sends ``Authorization: Bearer <token>``; without one, only a request
from the machine itself is answered: a loopback address, and no proxy header (a reverse proxy on the same
machine connects from 127.0.0.1 on behalf of anyone).

Neither page is behind the sign-in (no ``member_required``), and neither is under ``i18n_patterns``:
the middleware lets them through as they are.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

REDIS_TIMEOUT = 2.0  # seconds, to connect and to answer
#: channel layers that keep their messages on Redis (channels_redis)
REDIS_LAYERS = ("channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer")
#: headers a reverse proxy adds: a request carrying one came through it, not from this machine
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


# --- /healthz ---------------------------------------------------------------------------------------


def check_database() -> None:
    """The default database answers (raises otherwise)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def redis_hosts() -> list[Any]:
    """The Redis hosts of the channel layer (URLs, (host, port) pairs or dicts, as channels_redis takes
    them); empty when the channel layer is not on Redis."""
    layer = settings.CHANNEL_LAYERS.get("default", {})
    if layer.get("BACKEND") not in REDIS_LAYERS:
        return []
    return list(layer.get("CONFIG", {}).get("hosts") or [("localhost", 6379)])  # channels_redis's default


def _redis_client(host: Any) -> Any:
    import redis

    timeouts: dict[str, Any] = {"socket_timeout": REDIS_TIMEOUT, "socket_connect_timeout": REDIS_TIMEOUT}
    if isinstance(host, str):
        return redis.Redis.from_url(host, **timeouts)
    if isinstance(host, dict):
        options = dict(host)
        if "address" in options:
            return redis.Redis.from_url(options.pop("address"), **timeouts)
        return redis.Redis(**{**options, **timeouts})
    hostname, port = host
    return redis.Redis(host=hostname, port=port, **timeouts)


def check_redis(hosts: Iterable[Any]) -> None:
    """Every host answers a PING (raises otherwise)."""
    for host in hosts:
        client = _redis_client(host)
        try:
            client.ping()
        finally:
            client.close()


def _outcome(check: Any, *args: Any) -> str:
    try:
        check(*args)
    except Exception as exc:  # whatever the failure: a class name, never a traceback nor a message
        logger.warning("healthz: %s failed: %s: %s", check.__name__, type(exc).__name__, exc)
        return f"error: {type(exc).__name__}"
    return "ok"


@never_cache
@require_safe
@transaction.non_atomic_requests
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when this process can serve: its database answers, and Redis when the channel layer uses it."""
    hosts = redis_hosts()
    checks = {
        "database": _outcome(check_database),
        "redis": _outcome(check_redis, hosts) if hosts else "absent",
    }
    healthy = all(value in ("ok", "absent") for value in checks.values())
    body = {"status": "ok" if healthy else "fail", "checks": checks}
    return JsonResponse(body, status=200 if healthy else 503)


# --- /metrics ---------------------------------------------------------------------------------------


def _is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone, if any, is not the address
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1
    return ip.is_loopback  # 127.0.0.0/8, ::1


def _refused(request: HttpRequest) -> HttpResponse | None:
    """None when the request may read the metrics, else the answer that refuses it."""
    token = getattr(settings, "METRICS_TOKEN", "")  # settings.py reads it from the environment
    if token:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            response = HttpResponse("A bearer token is required.\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        if not hmac.compare_digest(given.strip().encode(), token.encode()):
            return HttpResponse("Wrong token.\n", status=403, content_type="text/plain")
        return None
    local = _is_loopback(request.META.get("REMOTE_ADDR") or "")
    # behind proxies (PROXY_COUNT), a request from loopback may be anyone's that the proxy carried,
    # whether or not it says so in a header: only the token then
    if not local or settings.PROXY_COUNT or any(request.META.get(header) for header in PROXY_HEADERS):
        return HttpResponse("Only from this machine (or set METRICS_TOKEN).\n", status=403,
                            content_type="text/plain")
    return None


def _call_metrics() -> Iterator[Metric]:
    from permanence.calls.lifecycle import State
    from permanence.calls.models import Call

    in_progress = (State.TALKING, State.ON_HOLD, State.TRANSFERRING, State.WRAP_UP)
    live = (State.QUEUED, State.OFFERED, *in_progress)
    # one query, on the (state, arrived_at) index; training calls are no caller's
    row = Call.objects.filter(state__in=live, training=False).aggregate(
        waiting=Count("pk", filter=Q(state=State.QUEUED)),
        offered=Count("pk", filter=Q(state=State.OFFERED)),
        in_progress=Count("pk", filter=Q(state__in=in_progress)),
        oldest=Min("arrived_at", filter=Q(state=State.QUEUED)),
    )
    oldest = row["oldest"]
    wait = max((timezone.now() - oldest).total_seconds(), 0.0) if oldest else 0.0
    yield GaugeMetricFamily("permanence_calls_waiting", "Calls in the queue, waiting for a secretary.",
                            value=row["waiting"])
    yield GaugeMetricFamily("permanence_calls_offered", "Calls offered to a secretary, not yet answered.",
                            value=row["offered"])
    yield GaugeMetricFamily(
        "permanence_calls_in_progress",
        "Calls answered and not finished: talking, on hold, being transferred, or in wrap-up.",
        value=row["in_progress"],
    )
    yield GaugeMetricFamily("permanence_oldest_wait_seconds",
                            "Time since the oldest waiting call arrived (0 when none waits).", value=wait)


def _desk_metrics() -> Iterator[Metric]:
    from permanence.calls.models import Desk, DeskStatus

    counts = dict.fromkeys(DeskStatus.values, 0)
    for status, count in Desk.objects.order_by().values_list("status").annotate(n=Count("pk")):
        counts[status] = count
    family = GaugeMetricFamily("permanence_desks", "Secretaries' desks by status.", labels=["status"])
    for status, count in sorted(counts.items()):
        family.add_metric([status], count)
    yield family


#: the deliveries counted: those still to send, and the dead letters (the sent ones grow without end)
DELIVERY_STATUSES = ("queued", "sending", "failed", "dead")


def _delivery_metrics() -> Iterator[Metric]:
    from permanence.messaging.models import Delivery

    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    rows = (
        Delivery.objects.filter(status__in=DELIVERY_STATUSES)  # the (status, next_attempt_at) index
        .order_by().values_list("status").annotate(n=Count("pk"))
    )
    for status, count in rows:
        counts[status] = count
    family = GaugeMetricFamily(
        "permanence_deliveries",
        "Message deliveries still to send (queued, sending, failed: to retry) and dead letters.",
        labels=["status"],
    )
    for status in DELIVERY_STATUSES:
        family.add_metric([status], counts[status])
    yield family


def _tasks_queued() -> int | None:
    """Background tasks due and not started. Database backend: the READY rows whose time has come (one
    held for later, a retry or a delivery held past quiet hours, is not counted). RQ: the length of its
    queues (a held job waits in RQ's scheduled registry, not in the queue); None when Redis does not
    answer, and the metric is left out."""
    from permanence import background

    if background.backend() == background.DATABASE:
        from django_tasks_db.models import DBTaskResult

        return int(DBTaskResult.objects.ready().count())  # the partial index on READY rows
    import redis
    from rq import Queue

    total = 0
    for name in settings.TASKS["default"].get("QUEUES") or ["default"]:
        client = redis.Redis.from_url(settings.RQ_QUEUES[name]["URL"], socket_timeout=REDIS_TIMEOUT,
                                      socket_connect_timeout=REDIS_TIMEOUT)
        try:
            total += Queue(name, connection=client).count
        except redis.RedisError as exc:
            logger.warning("metrics: RQ queue %s not read: %s", name, type(exc).__name__)
            return None
        finally:
            client.close()
    return total


def _task_metrics() -> Iterator[Metric]:
    queued = _tasks_queued()
    if queued is not None:
        yield GaugeMetricFamily("permanence_tasks_queued", "Background tasks due and not started yet.",
                                value=queued)


class DatabaseCollector(Collector):
    """Read at each scrape; nothing kept in this process (every web process answers the same)."""

    def collect(self) -> Iterable[Metric]:
        yield from _call_metrics()
        yield from _desk_metrics()
        yield from _delivery_metrics()
        yield from _task_metrics()


REGISTRY = CollectorRegistry(auto_describe=False)  # private: no process or platform metrics
REGISTRY.register(DatabaseCollector())


@never_cache
@require_safe
@transaction.non_atomic_requests
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _refused(request)
    if refused is not None:
        return refused
    try:
        body = generate_latest(REGISTRY)
    except DatabaseError as exc:  # Prometheus marks the target down; no traceback to the scraper
        logger.warning("metrics: database error: %s: %s", type(exc).__name__, exc)
        return HttpResponse("Database unavailable.\n", status=503, content_type="text/plain")
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
