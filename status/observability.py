"""What operators see of a running process: the request id, the page cache's counters, the
database's counters, and the collectors run when Prometheus scrapes /metrics (status/health.py).

The request id lives in a context variable: a request sets it (status/requestlog.py), Celery
carries it into the tasks the request causes (config/celery.py), and every log line written
meanwhile carries it (config/logging.py).

Metrics are prometheus_client's. With several processes per node (gunicorn workers), set
PROMETHEUS_MULTIPROC_DIR to an empty folder of the node's own before they start: counters are
then kept in files there and a scrape of any worker adds up the whole node's (README, "Health,
metrics and logs").
"""

import contextvars
import re
import time
import uuid

from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django_prometheus.db import (
    connections_total,
    errors_total,
    execute_total,
    query_duration_seconds,
)
from prometheus_client import REGISTRY, Counter

# An id a client or proxy sent us is kept only when it is short and plain: it is written into
# log lines and echoed in a header.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=/-]{1,128}")

request_id = contextvars.ContextVar("request_id", default=None)


def new_request_id():
    return uuid.uuid4().hex


def sane_request_id(value):
    """`value` if it may serve as a request id, else a new one."""
    if value and SANE_REQUEST_ID.fullmatch(value):
        return value
    return new_request_id()


def current_request_id():
    return request_id.get()


# Public pages answered from the cache (status/pagecache.py). The hit ratio is
# rate(hits) / (rate(hits) + rate(misses)) in PromQL.
PAGE_CACHE_LOOKUPS = Counter(
    "heliograph_page_cache_lookups",
    "Public page cache lookups, by result (hit or miss).",
    ["result"],
)
for _result in ("hit", "miss"):
    PAGE_CACHE_LOOKUPS.labels(_result)


def count_page_cache(hit):
    PAGE_CACHE_LOOKUPS.labels("hit" if hit else "miss").inc()


# Database metrics under django-prometheus's names, counted by an execute wrapper rather than
# its database backends, so that ENGINE stays Django's own (settings and tests read it).
def instrument_execute(execute, sql, params, many, context):
    connection = context["connection"]
    labels = (connection.alias, connection.vendor)
    # executemany's parameters may be an iterator, which must not be consumed here.
    executed = len(params) if many and hasattr(params, "__len__") else 1
    execute_total.labels(*labels).inc(executed)
    started = time.perf_counter()
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        errors_total.labels(*labels, type(error).__name__).inc()
        raise
    finally:
        query_duration_seconds.labels(*labels).observe(time.perf_counter() - started)


@receiver(connection_created)
def instrument_connection(sender, connection, **kwargs):
    connections_total.labels(connection.alias, connection.vendor).inc()
    if instrument_execute not in connection.execute_wrappers:
        connection.execute_wrappers.append(instrument_execute)


# Collectors that compute their values when Prometheus scrapes (reading the database): kept
# here so that /metrics can add them to the registry it builds in multiprocess mode.
scrape_collectors = []


def register_scrape_collector(collector):
    if collector in scrape_collectors:
        return
    scrape_collectors.append(collector)
    REGISTRY.register(collector)
