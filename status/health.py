"""Health checks and metrics for operators and their tools.

- /healthz: the process is alive and answering. It touches no database and no Redis, and
  answers on every host (HealthCheckMiddleware runs before host routing), so a load balancer
  may ask it by the node's address.
- /readyz: the node can do its work: the database answers, every migration is applied, and
  Redis (the cache and the broker, when they are Redis) answers. 200 or 503, JSON either way,
  naming each check.
- /metrics: Prometheus metrics, on the main site only, for a bearer token (METRICS_TOKEN), or
  without one configured for addresses in METRICS_ALLOWED_NETWORKS reached directly (no proxy
  in between). Anything else gets a 404, as if there were nothing there.
"""

import hmac
import ipaddress
import logging
import os

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import Http404, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    generate_latest,
    multiprocess,
)

from status.observability import scrape_collectors
from status.tenancy import public_view

log = logging.getLogger(__name__)

REDIS_CHECK_TIMEOUT = 1.0


@public_view
@never_cache
@require_safe
def healthz(request):
    return JsonResponse({"status": "ok"})


def database_check():
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def migrations_check():
    connection = connections[DEFAULT_DB_ALIAS]
    executor = MigrationExecutor(connection)
    plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if plan:
        names = ", ".join(f"{m.app_label}.{m.name}" for m, _backwards in plan)
        log.warning("not ready: unapplied migrations: %s", names)
        return f"failed: {len(plan)} unapplied"
    return "ok"


def redis_check(url):
    def check():
        if not url:
            return "not used"
        client = redis.Redis.from_url(
            url, socket_connect_timeout=REDIS_CHECK_TIMEOUT, socket_timeout=REDIS_CHECK_TIMEOUT
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"

    return check


def cache_redis_url():
    cache = settings.CACHES["default"]
    return cache.get("LOCATION") if "redis" in cache["BACKEND"].lower() else None


def broker_redis_url():
    url = getattr(settings, "CELERY_BROKER_URL", "") or ""
    always_eager = getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False)
    return url if url.startswith(("redis://", "rediss://")) and not always_eager else None


def readiness():
    """{check: "ok" | "not used" | "failed: why"}, and whether all passed."""
    checks = {
        "database": database_check,
        "migrations": migrations_check,
        "cache": redis_check(cache_redis_url()),
        "broker": redis_check(broker_redis_url()),
    }
    results = {}
    for name, check in checks.items():
        if name == "migrations" and results["database"] != "ok":
            results[name] = "failed: the database is unreachable"
            continue
        try:
            results[name] = check()
        except Exception as error:  # noqa: BLE001 (any failure is a failed check, said as such)
            # The answer is public (every host): it names the failure, the log says the rest.
            log.warning("not ready: %s check failed: %s", name, error)
            results[name] = f"failed: {type(error).__name__}"
    return results, all(not value.startswith("failed") for value in results.values())


@public_view
@never_cache
@require_safe
def readyz(request):
    results, ready = readiness()
    body = {"status": "ok" if ready else "unavailable", "checks": results}
    if not ready:
        body["failed"] = [name for name, value in results.items() if value.startswith("failed")]
    return JsonResponse(body, status=200 if ready else 503)


class HealthCheckMiddleware:
    """Answers /healthz and /readyz before host routing, so that they answer on every host
    (the main site's, a page's, the node's own address) without a lookup of the host."""

    VIEWS = {"/healthz": healthz, "/readyz": readyz}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = self.VIEWS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)


def metrics_allowed(request):
    token = settings.METRICS_TOKEN
    if token:
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)
    # Through a proxy every request comes from the proxy's address: that proves nothing.
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_X_REAL_IP" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    networks = settings.METRICS_ALLOWED_NETWORKS
    return any(address in ipaddress.ip_network(network, strict=False) for network in networks)


def metrics_registry():
    """The registry to export: the process's own, or in multiprocess mode (several gunicorn
    workers on a node) one adding up every worker's files, plus the scrape-time collectors."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    for collector in scrape_collectors:
        registry.register(collector)
    return registry


@require_safe
def metrics(request):
    if not metrics_allowed(request):
        raise Http404("No such page")
    response = HttpResponse(generate_latest(metrics_registry()), content_type=CONTENT_TYPE_LATEST)
    add_never_cache_headers(response)
    return response


metrics.access = "platform"
